"""Evidence about a student's objects, as plain data: the only thing that leaves a grading kernel.

At grading time the grader sends each graded test cell's *request* into the student's kernel: a
few expressions over the student's names (``"scale.forward(_P.points)"``) and probe arrays it drew
for this run. :func:`collect` evaluates them there and displays the results under :data:`MIME`,
numbers and arrays encoded without pickle. The grader decodes them with :func:`decode` and decides
the points outside the kernel, against the reference. Nothing here is secret: the request says what
is measured, never what the right answer is.

This module runs inside the student's interpreter, so student code can replace it; a forgery then
has to produce the right values on inputs drawn after the student's code ran, which is the task.
"""

import base64
import json

import numpy as np

MIME = "application/vnd.flowlab.evidence+json"
ARRAY_KINDS = "biuf"  # bool, signed and unsigned integers, floats: nothing that can hold objects
MAX_ARRAY_BYTES = 64 << 20
MAX_TEXT = 2000


class EvidenceError(ValueError):
    """Evidence that is not what the grader asked for (malformed, too large, wrong types)."""


def encode_array(array: np.ndarray) -> dict:
    """A numeric array as JSON: dtype, shape and base64 of its bytes (little-endian)."""
    array = np.asarray(array)
    if array.dtype.kind not in ARRAY_KINDS:
        raise TypeError(f"cannot send an array of dtype {array.dtype}")
    array = array.astype(array.dtype.newbyteorder("<"), copy=False)
    # tobytes() writes C order whatever the layout; a 0-d array keeps its shape ().
    return {"dtype": array.dtype.str, "shape": list(array.shape),
            "data": base64.b64encode(array.tobytes(order="C")).decode("ascii")}


def decode_array(spec: dict, max_bytes: int = MAX_ARRAY_BYTES) -> np.ndarray:
    """The array :func:`encode_array` wrote; :class:`EvidenceError` if it is anything else."""
    try:
        dtype = np.dtype(spec["dtype"])
        shape = tuple(int(n) for n in spec["shape"])
        data = spec["data"]
    except (KeyError, TypeError, ValueError) as error:
        raise EvidenceError(f"malformed array ({error})") from None
    if dtype.kind not in ARRAY_KINDS or dtype.hasobject:
        raise EvidenceError(f"arrays of dtype {dtype} are not accepted")
    if any(n < 0 for n in shape) or not isinstance(data, str) or len(data) > max_bytes * 4 // 3 + 8:
        raise EvidenceError("array too large or malformed")
    raw = base64.b64decode(data, validate=True)
    if len(raw) != dtype.itemsize * int(np.prod(shape, dtype=np.int64)):
        raise EvidenceError("array bytes do not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def _plain(value):
    """``value`` as JSON-able data: arrays for anything numeric, text for the rest."""
    if isinstance(value, (str, bool)) or value is None:
        return {"json": value if not isinstance(value, str) else value[:MAX_TEXT]}
    if isinstance(value, dict):
        return {"json": json.loads(json.dumps(value, default=str))}
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return {"json": [v[:MAX_TEXT] for v in value]}
    try:
        array = np.asarray(value)
    except ValueError:  # ragged, e.g. a list of weight tensors of different shapes
        array = None
    if array is not None and array.dtype.kind in ARRAY_KINDS:
        return {"array": encode_array(array)}
    if isinstance(value, (list, tuple)):
        return {"list": [_plain(v) for v in value]}
    raise TypeError(f"the value is a {type(value).__name__}, not numbers")


def kind(obj) -> list[str]:
    """The qualified names of ``obj``'s class and its bases, most specific first."""
    return [f"{k.__module__}.{k.__qualname__}" for k in type(obj).__mro__]


def weights(obj) -> list:
    """The current values of a Keras model's, layer's or TFP object's variables, in their order."""
    variables = getattr(obj, "weights", None)
    if variables is None:
        variables = getattr(obj, "variables", ())
    return [np.asarray(v) for v in variables]


def helpers(probes: dict) -> dict:
    """Names a request's expressions may use besides the student's own."""
    class Probes(dict):
        __getattr__ = dict.__getitem__

    return {"_P": Probes(probes), "_kind": kind, "_weights": weights, "_np": np}


def evaluate(request: dict, namespace: dict) -> dict:
    """Evaluate every expression of ``request`` in ``namespace``; an error is evidence too."""
    probes = {name: decode_array(spec) for name, spec in request.get("probes", {}).items()}
    scope = dict(namespace)
    scope.update(helpers(probes))
    results = {}
    for key, expression in request["items"].items():
        try:
            results[key] = _plain(eval(expression, scope))  # noqa: S307  (the grader's expression)
        except BaseException as error:  # noqa: BLE001  (a failing object is an answer to grade)
            results[key] = {"error": f"{type(error).__name__}: {error}"[:MAX_TEXT]}
    return results


def collect(request_json: str) -> None:
    """Kernel side: evaluate a request in the notebook's namespace and display the evidence."""
    from IPython import get_ipython
    from IPython.display import display

    results = evaluate(json.loads(request_json), get_ipython().user_ns)
    display({MIME: {"results": results}}, raw=True)


def decode(results: dict) -> dict:
    """Host side: the collected values, ``key -> value`` or ``key -> EvidenceError``."""
    if not isinstance(results, dict):
        raise EvidenceError("the evidence is not a mapping")
    return {str(key): _decode_one(item) for key, item in results.items()}


def _decode_one(item):
    try:
        if not isinstance(item, dict) or len(item) != 1:
            raise EvidenceError("malformed evidence item")
        (tag, value), = item.items()
        if tag == "error":
            return EvidenceError(str(value)[:MAX_TEXT])
        if tag == "json":
            return value
        if tag == "array":
            return decode_array(value)
        if tag == "list":
            decoded = [_decode_one(v) for v in value]
            errors = [v for v in decoded if isinstance(v, EvidenceError)]
            return errors[0] if errors else decoded
        raise EvidenceError(f"unknown evidence tag {tag!r}")
    except EvidenceError as error:
        return error
    except Exception as error:  # noqa: BLE001  (anything odd in student-made data is just bad evidence)
        return EvidenceError(f"malformed evidence ({type(error).__name__})")

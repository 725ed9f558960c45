"""Cheats that once earned full marks with wrong answers, graded in one batch of the tiny lab.

Every cheating submission has a wrong ``add`` and a correct ``mul``; without the cheat those answers
score 3 of 5 (add's 2 points lost). The checks that decide points run outside the student's
interpreter, so every cheat must score exactly that, and honest students in the batch keep theirs.
"""

import base64

import grading_fixtures as gf
import pytest

from flowlab.course.grading import batch
from flowlab.course.grading.limits import Limits
from flowlab.course.grading.sandbox import detect

pytestmark = pytest.mark.slow
LIMITS = Limits(cell_timeout=10, notebook_timeout=120, memory_mb=1024, output_chars=4000)
NO_OP = "lambda *args, **kwargs: None"
PATCH_CHECKS = f"import flowlab.checks\nflowlab.checks.expect = {NO_OP}\n"

CHEATS = {
    "metaclass": (
        "class M(type):\n    def __getattr__(cls, name):\n        return " + NO_OP + "\n"
        "class checks(metaclass=M):\n    pass\n"),
    "globals_item": f"class Fake:\n    expect = staticmethod({NO_OP})\nglobals()['checks'] = Fake\n",
    "for_target": f"class Fake:\n    expect = staticmethod({NO_OP})\nfor checks in [Fake]:\n    pass\n",
    "walrus": f"class Fake:\n    expect = staticmethod({NO_OP})\nif (checks := Fake):\n    pass\n",
    "thread": (
        f"import threading, time\nclass Fake:\n    expect = staticmethod({NO_OP})\n"
        "def keep():\n    while True:\n        globals()['checks'] = Fake\n        time.sleep(0.001)\n"
        "threading.Thread(target=keep, daemon=True).start()\n"),
    "vars_update": f"import flowlab, flowlab.checks\nvars(flowlab.checks).update(expect={NO_OP})\n",
    "getattr_setattr": (
        "import flowlab, flowlab.checks\nmodule = getattr(flowlab, 'che' + 'cks')\n"
        f"setattr(module, 'exp' + 'ect', {NO_OP})\n"),
    "builtins_exec": (
        "getattr(globals()['__bui' + 'ltins__'], 'ex' + 'ec')(__import__('base64').b64decode("
        f"{base64.b64encode(PATCH_CHECKS.encode()).decode()!r}).decode())\n"),
    "input_transformer": (
        "def blank_tests(lines):\n"
        "    return ['pass\\n'] if any('checks.expect' in line for line in lines) else lines\n"
        "get_ipython().input_transformers_cleanup.append(blank_tests)\n"),
    "ast_transformer": (
        "import ast\nclass Drop(ast.NodeTransformer):\n"
        "    def visit_Expr(self, node):\n"
        "        return ast.Pass() if 'checks' in ast.dump(node) else node\n"
        "getattr(get_ipython(), 'ast_' + 'transformers').append(Drop())\n"),
    # Jumps over every line of a cell that calls a check.
    "settrace": (
        "import linecache, sys\n"
        "def skip(frame, event, arg):\n"
        "    if event == 'line' and 'checks.expect' in linecache.getline(frame.f_code.co_filename,"
        " frame.f_lineno):\n"
        "        try:\n            frame.f_lineno = frame.f_lineno + 1\n"
        "        except ValueError:\n            pass\n"
        "    return skip\n"
        "getattr(sys, 'set' + 'trace')(lambda frame, event, arg: skip)\n"),
    "custom_exc": (
        "def swallow(shell, etype, value, tb, tb_offset=None):\n    return None\n"
        "get_ipython().set_custom_exc((AssertionError,), swallow)\n"),
    # Claims add's answers are right without computing them.
    "forged_evidence": (
        "import flowlab.evidence as ev\nreal = ev.evaluate\n"
        "def forged(request, namespace):\n    results = real(request, namespace)\n"
        "    if 'sums' in results:\n        results['sums'] = {'json': 'all correct'}\n"
        "    return results\nev.evaluate = forged\n"),
}
WRONG_ADD = "    return a - b\n"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if detect().kind != "bwrap":
        pytest.skip("bubblewrap is not available here (run autograder/install-sandbox.sh)")
    tmp = tmp_path_factory.mktemp("cheats")
    source, template, release = gf.tiny_course(tmp)
    subs = tmp / "submissions"
    gf.write(gf.submission(release), subs / "honest.ipynb")
    gf.write(gf.submission(release, add=WRONG_ADD), subs / "plainwrong.ipynb")
    for name, code in CHEATS.items():
        gf.write(gf.submission(release, add=WRONG_ADD, extra=code), subs / f"{name.replace('_', '')}.ipynb")
    leaker = gf.submission(release, add=WRONG_ADD)
    gf.cell_by_id(leaker, "answer_mul").source += (
        "\nimport base64\nprint(base64.b64encode(repr(In).encode()).decode())\n")
    gf.write(leaker, subs / "historian.ipynb")
    out = gf.seed_template(tmp / "out", source, template)
    batch.grade(gf.LAB, subs, out, batch.Options(workers=2, source=source, limits=LIMITS,
                                                 verifiers=gf.verifiers(source), progress=False))
    return {"rows": gf.read_csv(out / "grades.csv"), "out": out}


def test_honest_and_plain_wrong_answers(graded):
    rows = graded["rows"]
    assert (rows["honest"]["status"], rows["honest"]["total"]) == ("graded", "5")
    assert (rows["plainwrong"]["total"], rows["plainwrong"]["test_add"]) == ("3", "0")


@pytest.mark.parametrize("cheat", sorted(CHEATS))
def test_cheat_scores_what_its_wrong_answers_score(graded, cheat):
    row = graded["rows"][cheat.replace("_", "")]
    assert row["status"] == "graded", row["reason"]
    assert (row["test_add"], row["test_mul"], row["total"]) == ("0", "3", "3"), row


def test_history_never_holds_the_checks(graded):
    row = graded["rows"]["historian"]
    assert row["total"] == "3"
    autograded = graded["out"] / "course" / "autograded" / "historian" / gf.LAB / f"{gf.LAB}.ipynb"
    printed = autograded.read_text()
    encoded = [line for line in printed.split('"') if len(line) > 200]
    assert encoded, "the historian's base64 dump should be in its notebook"
    for blob in encoded:
        try:
            text = base64.b64decode(blob.replace("\\n", "")).decode(errors="ignore")
        except ValueError:
            continue
        assert gf.SECRET not in text and "_judge" not in text

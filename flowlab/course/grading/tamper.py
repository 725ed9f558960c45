"""Signs of tampering, for manual review. A flagged submission is still graded.

Two kinds of evidence:

* structure: the submission compared with the student notebook it was handed out as (test and
  read-only cells changed or removed, graded cells duplicated or renamed, nbgrader metadata edited,
  graded cells reordered);
* code: student-written cells that change how later cells run or what the checks see (patching
  modules or ``flowlab.checks``, interpreter hooks, ``sys.modules``/builtins tampering, IPython
  hooks, reading cell history, frame introspection, killing the process). Code the scan cannot
  judge (``exec``/``eval``, a cell that does not parse) is flagged as such.

Each flag names what was found and where, e.g. ``patches module attribute np.testing.assert_allclose
(cell answer_add)``.
"""

import ast
import contextlib
import re

from flowlab.course.grading.intake import graded_cells

INTERPRETER_HOOKS = {
    "sys.settrace", "sys.setprofile", "threading.settrace", "threading.setprofile",
    "sys.addaudithook", "sys.meta_path", "sys.path_hooks", "sys.excepthook", "sys.displayhook",
    "sys.modules", "sys.stderr", "sys.stdout", "sys.__stderr__", "sys._getframe",
    "inspect.currentframe", "inspect.stack", "gc.get_referrers", "gc.get_objects",
    "os._exit", "os.kill", "signal.signal", "atexit.register", "faulthandler",
}
HOOK_MODULES = {"ctypes": "native memory access (ctypes)", "builtins": "builtins module",
                "unittest.mock": "mock patching", "mock": "mock patching",
                "importlib": "import machinery", "sitecustomize": "site hooks"}
DYNAMIC_CALLS = {"exec", "eval", "compile", "__import__"}
HISTORY_NAMES = {"In", "Out", "_ih", "_oh", "_dh", "__builtins__"}
HISTORY_NAME = re.compile(r"^_i{1,3}\d*$|^_\d+$")
FRAME_ATTRS = {"f_back", "f_globals", "f_locals", "f_code", "__code__", "__globals__", "tb_frame",
               "gi_frame", "cr_frame"}
# Writing these is ordinary setup, not patching (the handed-out notebooks set os.environ).
BENIGN_TARGETS = {"os.environ", "plt.rcParams", "matplotlib.rcParams", "mpl.rcParams", "np.random.seed"}
STRUCTURAL_KEYS = ("grade", "solution", "locked", "points", "grade_id", "schema_version")


def _dotted(node) -> str:
    """``a.b.c`` for an attribute chain on a name, else ''."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    if isinstance(node, ast.Subscript):
        return _dotted(node.value)
    return ""


def _imports(tree) -> dict[str, str]:
    """Names bound by imports in ``tree``: local name -> module path."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[(alias.asname or alias.name).split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _strip_magics(source: str) -> tuple[str, list[str]]:
    """Source with IPython magics and shell escapes blanked; the magics found."""
    lines, magics = [], []
    for line in source.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            magics.append(stripped.split()[0])
            lines.append("")
        else:
            lines.append(line)
    return "\n".join(lines), magics


def scan_code(source: str, modules: dict[str, str] | None = None) -> list[str]:
    """What ``source`` (one code cell) does that could change grading; ``modules`` are names other
    cells imported (a patch in one cell of a module imported in another still counts)."""
    code, magics = _strip_magics(source)
    found = [f"IPython magic or shell command {m}" for m in sorted(set(magics))]
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return found + ["code that does not parse (not checked)"]
    bound = dict(modules or {})
    bound.update(_imports(tree))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                for module, what in HOOK_MODULES.items():
                    if name == module or name.startswith(module + "."):
                        found.append(f"imports {name}: {what}")
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        elif isinstance(node, ast.Delete):
            targets = node.targets
        for target in targets:
            dotted = _dotted(target)
            head = dotted.split(".")[0]
            if dotted in BENIGN_TARGETS:
                continue
            if isinstance(target, ast.Attribute | ast.Subscript) and head in bound:
                found.append(f"patches module attribute {dotted}")
            elif isinstance(target, ast.Name) and target.id in (modules or {}) and \
                    target.id not in _imports(tree):
                found.append(f"rebinds imported name {target.id}")
            elif isinstance(target, ast.Attribute) and target.attr in FRAME_ATTRS:
                found.append(f"rewrites {target.attr}")
        if isinstance(node, ast.Call):
            func = _dotted(node.func)
            if func in DYNAMIC_CALLS:
                found.append(f"dynamic code {func}() (not checked)")
            elif func in ("setattr", "delattr") and node.args:
                owner = _dotted(node.args[0]).split(".")[0]
                if owner in bound or owner in ("sys", "builtins", "__builtins__"):
                    found.append(f"{func}() on module {_dotted(node.args[0])}")
            elif func.endswith(("events.register", "register_magic_function")) or \
                    func in ("get_ipython",):
                found.append(f"IPython hook {func}()")
        if isinstance(node, ast.Attribute):
            dotted = _dotted(node)
            if dotted in INTERPRETER_HOOKS or any(dotted.startswith(h + ".") for h in INTERPRETER_HOOKS):
                found.append(f"interpreter hook {dotted}")
            elif node.attr in FRAME_ATTRS:
                found.append(f"frame introspection .{node.attr}")
            elif node.attr in ("input_transformers_cleanup", "input_transformers_post",
                               "ast_transformers", "run_cell"):
                found.append(f"IPython hook .{node.attr}")
        if isinstance(node, ast.Name) and (node.id in HISTORY_NAMES or HISTORY_NAME.match(node.id)):
            found.append(f"reads cell history or builtins {node.id}")
    # Keep one of each, in a stable order, so reports are identical across runs.
    return sorted(set(found))


def structure(nb, release) -> list[str]:
    """Differences in the graded and read-only cells of ``nb`` against the ``release`` notebook."""
    flags = []
    expected = graded_cells(release)
    expected_meta = dict(expected)
    expected_source = {}
    expected_type = {}
    for cell in release.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade_id"):
            expected_source[meta["grade_id"]] = cell.source
            expected_type[meta["grade_id"]] = cell.cell_type
    present = graded_cells(nb)
    counts: dict[str, int] = {}
    for grade_id, _ in present:
        counts[grade_id] = counts.get(grade_id, 0) + 1
    for grade_id, count in sorted(counts.items()):
        if count > 1:
            flags.append(f"duplicated graded cell {grade_id} ({count} copies)")
        if grade_id not in expected_meta:
            flags.append(f"unknown graded cell {grade_id} (renamed or added)")
    for grade_id, meta in expected:
        if grade_id not in counts:
            kind = "test cell" if meta.get("grade") and not meta.get("solution") else "cell"
            flags.append(f"removed {kind} {grade_id}")
    seen = set()
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader")
        if not isinstance(meta, dict) or meta.get("grade_id") not in expected_meta:
            continue
        grade_id = meta["grade_id"]
        if grade_id in seen:
            continue
        seen.add(grade_id)
        original = expected_meta[grade_id]
        edited = [key for key in STRUCTURAL_KEYS if meta.get(key) != original.get(key)]
        if edited:
            changes = ", ".join(f"{k} {original.get(k)!r}->{meta.get(k)!r}" for k in edited)
            flags.append(f"edited nbgrader metadata of {grade_id} ({changes})")
        if cell.cell_type != expected_type[grade_id]:
            flags.append(f"changed cell type of {grade_id}")
        read_only = original.get("locked") or (original.get("grade") and not original.get("solution"))
        if read_only and cell.source != expected_source[grade_id]:
            kind = "test cell" if original.get("grade") and not original.get("solution") else \
                "read-only cell"
            flags.append(f"changed {kind} {grade_id}")
    order = [gid for gid, _ in present if gid in expected_meta]
    unique_order = list(dict.fromkeys(order))
    expected_order = [gid for gid, _ in expected if gid in counts]
    if unique_order != expected_order:
        flags.append("reordered graded cells")
    return flags


def scan(nb, release) -> list[str]:
    """All tamper flags of submission ``nb``: structure first, then code, each in a stable order."""
    flags = structure(nb, release)
    # Code exactly as handed out was not written by the student; it is not scanned.
    handed_out = {cell.source for cell in release.cells if cell.cell_type == "code"}
    student_cells = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or cell.source in handed_out:
            continue
        meta = cell.get("metadata", {}).get("nbgrader")
        name = meta.get("grade_id") if isinstance(meta, dict) and meta.get("grade_id") else \
            f"#{index + 1}"
        student_cells.append((name, cell.source))
    # Names the tests import count too: rebinding `checks` fools a test cell that does not re-import.
    modules: dict[str, str] = {}
    for source in [c.source for c in release.cells if c.cell_type == "code"] + \
            [s for _, s in student_cells]:
        with contextlib.suppress(SyntaxError):
            modules.update(_imports(ast.parse(_strip_magics(source)[0])))
    for name, source in student_cells:
        for finding in scan_code(source, modules):
            flags.append(f"{finding} (cell {name})")
    return flags

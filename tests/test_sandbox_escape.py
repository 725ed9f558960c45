"""Students who attack the sandbox and the people who open their feedback (tiny lab, no TensorFlow).

Each attacker hands in the same wrong answers as ``wrong`` and must score exactly what ``wrong``
scores; honest ``alice`` in the same batch keeps full marks. The attacks print what they achieved,
so the autograded notebook says whether each one was blocked. The batch runs as root (as in CI)
and, where the machine allows it, again as the unprivileged user 65534.
"""

import hashlib
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import grading_fixtures as gf
import nbformat
import pytest

from flowlab.course.grading import batch, launcher, sandbox
from flowlab.course.grading.limits import Limits

pytestmark = pytest.mark.slow
LIMITS = Limits(cell_timeout=30, notebook_timeout=120, memory_mb=1536, output_chars=4000)
SECRET_NAME = "FLOWLAB_GRADER_TOKEN"
SECRET_VALUE = "grader-secret-5d1c9e"
MARK = "PWN" + "ED"  # never written out whole in the submissions' code, only produced by it
CANARY_TEXT = "canary-7b2e: not to be changed or copied"
SAFE_MIMES = {"text/plain", "text/html", "image/png", "image/jpeg", "image/gif"}

CAPABILITIES = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
caps = [l.split()[1] for l in open('/proc/self/status') if l.startswith(('CapEff', 'CapPrm', 'CapBnd'))]
print('CAPS', *caps)
class Handle(ctypes.Structure):
    _fields_ = [('size', ctypes.c_uint), ('kind', ctypes.c_int), ('inode', ctypes.c_uint32 * 2)]
root = Handle(8, 1, (ctypes.c_uint32 * 2)(2, 0))   # FILEID_INO32_GEN: inode 2, the root folder
fd = libc.open_by_handle_at(os.open('/usr', os.O_RDONLY), ctypes.byref(root), os.O_RDONLY)
print('HANDLE', 'open' if fd >= 0 else 'blocked', ctypes.get_errno())
os.makedirs('/tmp/mnt', exist_ok=True)
for kind in (b'tmpfs', b'devtmpfs', b'proc'):
    ok = libc.mount(kind, b'/tmp/mnt', kind, 0, None)
    print('MOUNT', kind.decode(), 'open' if ok == 0 else 'blocked', ctypes.get_errno())
pid = os.fork()   # unshare() needs a single-threaded process, which the kernel is not
if pid == 0:
    os._exit(0 if libc.unshare(0x10000000) == 0 else 1)
print('USERNS', 'open' if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0 else 'blocked')
print('UID', os.getuid(), os.getgid())
"""

SYMLINKS = """
import os, glob
from ipykernel.connect import get_connection_file
runtime = os.path.dirname(get_connection_file())
planted = 0
for folder in (os.getcwd(), runtime):
    for name, target in [('{lab}.ipynb', {canary!r}), ('{lab}.html', {canary!r}),
                         ('leak', {canary_dir!r}), ('ghost', {ghost!r}), ('kernel-evil.json', {canary!r})]:
        try:
            if os.path.lexists(os.path.join(folder, name)):
                os.remove(os.path.join(folder, name))
            os.symlink(target, os.path.join(folder, name))
            planted += 1
        except OSError as error:
            print('could not plant', name, error)
print('PLANTED', planted)
try:
    open({canary!r}).read()
    print('CANARY', 'readable')
except OSError:
    print('CANARY', 'unreachable')
"""

ENVIRONMENT = """
import os, glob
seen = dict(os.environ)
for path in glob.glob('/proc/*/environ'):
    try:
        seen[path] = open(path, 'rb').read().decode(errors='replace')
    except OSError:
        pass
print('ENV', sorted(os.environ))
print('ALL', seen)
import flowlab
tooling = os.path.join(os.path.dirname(flowlab.__file__), 'course')
print('TOOLING', sorted(os.listdir(tooling)) if os.path.isdir(tooling) else 'absent')
try:
    import flowlab.course.grading.verifier
    print('IMPORT tooling', 'open')
except ImportError:
    print('IMPORT tooling', 'blocked')
"""

FILL = """
import os
chunk = b'x' * (16 << 20)
def fill(folder, total_mb):
    written = 0
    try:
        for i in range(total_mb // 16):
            with open(os.path.join(folder, f'fill{{i}}'), 'wb') as handle:
                handle.write(chunk)
            written += 16
    except OSError:
        pass
    return written
print('SHM', fill('/dev/shm', {shm} + 32))
print('WORKDIR', fill('.', {workdir} + 32))
print('TMP', fill('/tmp', {tmp} + 32))
for folder in ('/', '/dev', '/usr'):
    try:
        open(os.path.join(folder, 'planted'), 'w').write('x')
        print('WRITABLE', folder)
    except OSError:
        print('READONLY', folder)
"""

SPREAD = """
import os, time
children = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        try:
            hog = b'x' * (600 << 20)   # each child stays under the per-process cap
            time.sleep(6)
        finally:
            os._exit(0)
    children.append(pid)
print('VM', [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmSize')])
statuses = [os.waitpid(pid, 0)[1] for pid in children]
print('CHILDREN', ['killed' if os.WIFSIGNALED(s) and os.WTERMSIG(s) == 9 else 'ended' for s in statuses])
"""

SPAWN = """
import os, time
children = []
for _ in range(100):
    pid = os.fork()
    if pid == 0:
        time.sleep(6)
        os._exit(0)
    children.append(pid)
print('KILLED', sum(1 for pid in children if os.WIFSIGNALED(os.waitpid(pid, 0)[1])))
"""

RUNTIME_FILL = """
import os, time
from ipykernel.connect import get_connection_file
runtime = os.path.dirname(get_connection_file())
for i in range(200):
    with open(os.path.join(runtime, f'junk{i}'), 'w') as handle:
        handle.write('x' * 10_000)
time.sleep(6)
print('RUNTIME FILLED')
"""

SCRIPTS = """
from IPython.display import HTML, Javascript, SVG, Markdown, display
mark = 'PWN' + 'ED'
tag = 'scr' + 'ipt'
display(HTML(f'<{tag}>window.{mark} = 1</{tag}><b>bold</b><img src=x onerror="{mark}()">'))
display(HTML(f'<svg onload="{mark}()"><a href="javascript:{mark}()">x</a></svg>'))
display(Javascript(f'window.{mark} = 2'))
display(SVG(f'<svg xmlns="http://www.w3.org/2000/svg" onload="{mark}()"><circle r="3"/></svg>'))
display(Markdown(f'<img src=x onerror="{mark}()"> [link](javascript:{mark}())'))
display({'image/png': f'AAAA" onerror="{mark}()', 'text/plain': 'png'}, raw=True)
display({'image/png': 'iVBORw0KGgo=', 'text/plain': 'png2'},
        metadata={'image/png': {'width': f'1" onerror="{mark}()'}}, raw=True)
display({'application/vnd.jupyter.widget-view+json': {'model_id': mark},
         'text/html': f'<iframe srcdoc="{mark}">'}, raw=True)
"""
MARKDOWN_CELL = ("Student notes <img src=x onerror=\"" + MARK + "()\"> and "
                 "[a link](javascript:" + MARK + "()) and math $x_{<i}$")
RAW_CELL = "<script>window." + MARK + " = 3</script>"


class ActiveContent(html.parser.HTMLParser):
    """What of the attacks' output would run in a page: script text, event handlers, script URLs
    and frame documents carrying the attacks' mark."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.active: list[str] = []
        self._in_script = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self._in_script = tag == "script"
        for name, value in attrs:
            value = (value or "").strip()
            if MARK not in value:
                continue
            if name.startswith("on") or name == "srcdoc" or (
                    name in ("href", "src", "action", "xlink:href", "formaction")
                    and value.lower().startswith(("javascript:", "vbscript:", "data:text/html"))):
                self.active.append(f"<{tag} {name}={value[:80]}>")

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script and MARK in data:
            self.active.append(f"<script>{data[:80]}")


def digest(*paths: Path) -> str:
    sha = hashlib.sha256()
    for root in paths:
        for path in sorted([root] if root.is_file() else root.rglob("*")):
            sha.update(str(path).encode())
            if path.is_file():
                sha.update(path.read_bytes())
            sha.update(oct(path.lstat().st_mode).encode())
    return sha.hexdigest()


def write_batch(release: Path, folder: Path, canaries: dict) -> None:
    wrong = {"add": gf.WRONG, "mul": gf.WRONG}
    gf.write(gf.submission(release), folder / "alice.ipynb")
    gf.write(gf.submission(release, **wrong), folder / "wrong.ipynb")
    attacks = {"caps": CAPABILITIES, "symlinks": SYMLINKS.format(lab=gf.LAB, **canaries),
               "environ": ENVIRONMENT,
               "filler": FILL.format(shm=sandbox.SHM_MB, workdir=sandbox.WORKDIR_MB, tmp=sandbox.TMP_MB),
               "spread": SPREAD, "spawner": SPAWN, "scripts": SCRIPTS, "socketfill": RUNTIME_FILL}
    for student, code in attacks.items():
        gf.write(gf.submission(release, extra=code, **wrong), folder / f"{student}.ipynb")
    nb = gf.submission(release, **wrong)
    nb.cells.insert(2, nbformat.v4.new_markdown_cell(MARKDOWN_CELL))
    nb.cells.insert(3, nbformat.v4.new_raw_cell(RAW_CELL, metadata={"format": "text/html"}))
    gf.write(nb, folder / "writer.ipynb")


def plant_canaries(tmp: Path) -> dict:
    canary_dir = tmp / "canaries"
    canary_dir.mkdir()
    canary = canary_dir / "canary.txt"
    canary.write_text(CANARY_TEXT)
    (canary_dir / "inner.txt").write_text(CANARY_TEXT)
    os.chmod(canary, 0o644)
    return {"canary": str(canary), "canary_dir": str(canary_dir), "ghost": str(tmp / "ghost-created")}


def outputs_text(notebook: Path) -> str:
    """Everything the kernel printed in ``notebook``."""
    nb = nbformat.read(notebook, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []) if o.output_type == "stream")


def autograded(out: Path, student: str) -> Path:
    return out / "course" / "autograded" / student / gf.LAB / f"{gf.LAB}.ipynb"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    if sandbox.detect().kind != "bwrap":
        pytest.skip("bubblewrap is not available here (run autograder/install-sandbox.sh)")
    # A world-readable folder, so the unprivileged run below can read the lab and submissions.
    tmp = Path(tempfile.mkdtemp(prefix="flowlab-escape-", dir="/tmp"))
    os.chmod(tmp, 0o755)
    source, template, release = gf.tiny_course(tmp)
    submissions = tmp / "submissions"
    canaries = plant_canaries(tmp)
    write_batch(release, submissions, canaries)
    yield {"tmp": tmp, "source": source, "template": template, "submissions": submissions,
           "canaries": canaries}
    shutil.rmtree(tmp, ignore_errors=True)


def grade_in_process(tiny, out: Path) -> dict:
    before = digest(Path(tiny["canaries"]["canary_dir"]), tiny["source"], tiny["submissions"])
    os.environ[SECRET_NAME] = SECRET_VALUE
    try:
        summary = batch.grade(gf.LAB, tiny["submissions"], gf.seed_template(out, tiny["source"],
                                                                             tiny["template"]),
                              batch.Options(workers=2, source=tiny["source"], limits=LIMITS,
                                            verifiers=gf.verifiers(tiny["source"]), progress=False))
    finally:
        del os.environ[SECRET_NAME]
    after = digest(Path(tiny["canaries"]["canary_dir"]), tiny["source"], tiny["submissions"])
    return {"out": out, "rows": gf.read_csv(out / "grades.csv"), "summary": summary,
            "unchanged": before == after, "canaries": tiny["canaries"]}


def grade_as_nobody(tiny, out: Path) -> dict:
    """``flowlab grade`` run by uid 65534 from a shell, as a non-root instructor would."""
    if os.geteuid() != 0:
        pytest.skip("switching to an unprivileged user needs root")
    if not shutil.which("setpriv"):
        pytest.skip("setpriv (util-linux) is not installed")
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    # Through `env`, as the grader's own subprocesses start Python (not setpriv's direct exec).
    probe = subprocess.run([*nobody, "env", sys.executable, "-c", "import flowlab"], capture_output=True,
                           text=True)
    if probe.returncode != 0:
        pytest.skip(f"uid 65534 cannot run this Python ({os.path.realpath(sys.executable)}; a folder on "
                    f"its path is closed to other users?): {probe.stderr.strip()[-300:]}")
    probe = subprocess.run([*nobody, shutil.which("bwrap"), *sandbox.PROBE, "true"], capture_output=True,
                           text=True)
    if probe.returncode != 0:
        pytest.skip(f"bubblewrap cannot run as an unprivileged user here: {probe.stderr.strip()}")
    home = tiny["tmp"] / "nobody-home"
    for folder in (out, home):
        folder.mkdir()
        os.chown(folder, 65534, 65534)
    before = digest(Path(tiny["canaries"]["canary_dir"]), tiny["source"], tiny["submissions"])
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8", SECRET_NAME: SECRET_VALUE}
    flowlab = Path(sys.executable).with_name("flowlab")
    run = subprocess.run([*nobody, str(flowlab), "grade", gf.LAB, str(tiny["submissions"]), "--out",
                          str(out), "--source", str(tiny["source"]), "--workers", "2", "--no-progress",
                          "--sandbox", "bwrap", "--verifiers", str(gf.verifiers(tiny["source"])),
                          "--cell-timeout", str(LIMITS.cell_timeout), "--notebook-timeout",
                          str(LIMITS.notebook_timeout), "--memory-mb", str(LIMITS.memory_mb),
                          "--output-chars", str(LIMITS.output_chars)],
                         env=env, cwd=home, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    after = digest(Path(tiny["canaries"]["canary_dir"]), tiny["source"], tiny["submissions"])
    return {"out": out, "rows": gf.read_csv(out / "grades.csv"), "summary": None,
            "unchanged": before == after, "canaries": tiny["canaries"]}


@pytest.fixture(scope="module", params=["root", "nobody"])
def graded(request, tiny):
    out = tiny["tmp"] / f"out-{request.param}"
    if request.param == "root":
        return grade_in_process(tiny, out)
    return grade_as_nobody(tiny, out)


def test_honest_student_keeps_full_marks_and_wrong_scores_zero(graded):
    rows = graded["rows"]
    assert (rows["alice"]["status"], rows["alice"]["total"]) == ("graded", "5")
    assert (rows["wrong"]["status"], rows["wrong"]["total"]) == ("graded", "0")


@pytest.mark.parametrize("student", ["caps", "symlinks", "environ", "filler", "spread", "spawner",
                                     "scripts", "writer"])
def test_attackers_score_what_their_wrong_answers_score(graded, student):
    rows = graded["rows"]
    tasks = ("status", "total", "test_add", "test_mul")
    assert [rows[student][k] for k in tasks] == [rows["wrong"][k] for k in tasks]


def test_no_capabilities_no_mounts_no_user_namespaces(graded):
    printed = outputs_text(autograded(graded["out"], "caps"))
    assert "CAPS 0000000000000000 0000000000000000 0000000000000000" in printed
    assert "HANDLE blocked 1" in printed  # EPERM: the capability check, not some other failure
    for kind in ("tmpfs", "devtmpfs", "proc"):
        assert f"MOUNT {kind} blocked 1" in printed
    if sandbox.detect().disable_userns:
        assert "USERNS blocked" in printed
    assert "UID 65534 65534" in printed


def test_planted_symlinks_reach_nothing(graded):
    out, canaries = graded["out"], graded["canaries"]
    printed = outputs_text(autograded(out, "symlinks"))
    assert "CANARY unreachable" in printed
    assert "PLANTED 10" in printed  # the links were made; they just lead nowhere the grader goes
    assert graded["unchanged"]
    assert Path(canaries["canary"]).read_text() == CANARY_TEXT
    assert oct(Path(canaries["canary"]).stat().st_mode & 0o777) == "0o644"
    assert not os.path.lexists(canaries["ghost"])
    for path in out.rglob("*"):
        assert not path.is_symlink(), path
        if path.is_file() and path.suffix != ".db":
            assert CANARY_TEXT not in path.read_text(errors="replace"), path


def test_grader_environment_is_not_visible(graded):
    out = graded["out"]
    printed = outputs_text(autograded(out, "environ"))
    assert "ENV [" in printed
    assert SECRET_VALUE not in printed and SECRET_NAME not in printed
    assert SECRET_VALUE not in (out / "feedback" / "environ.html").read_text()
    seen = re.search(r"ENV (\[.*?\])", printed).group(1)
    assert "FLOWLAB_SANDBOX_REPORT" not in seen and "JUPYTER_RUNTIME_DIR" not in seen


def test_course_tooling_is_not_visible(graded):
    # The package folder is readable (the labs import it), but the grader, the audit and the
    # course tooling inside it are covered by an empty folder.
    printed = outputs_text(autograded(graded["out"], "environ"))
    assert "TOOLING []" in printed and "IMPORT tooling blocked" in printed, printed[-2000:]


def test_writable_places_are_capped_tmpfs(graded):
    printed = outputs_text(autograded(graded["out"], "filler"))
    written = {name: int(n) for name, n in re.findall(r"^(SHM|WORKDIR|TMP) (\d+)$", printed, re.MULTILINE)}
    assert set(written) == {"SHM", "WORKDIR", "TMP"}, printed + graded["rows"]["filler"]["reason"]
    assert written["SHM"] <= sandbox.SHM_MB
    assert written["WORKDIR"] <= sandbox.WORKDIR_MB
    assert written["TMP"] <= sandbox.TMP_MB
    for folder in ("/", "/dev", "/usr"):
        assert f"READONLY {folder}" in printed
    # Nothing the kernel wrote in its working folder reaches the output.
    assert not list((graded["out"] / "course" / "autograded" / "filler").rglob("fill*"))


def test_memory_spread_over_child_processes_is_stopped(graded):
    out = graded["out"]
    printed = outputs_text(autograded(out, "spread"))
    assert "CHILDREN ['killed', 'killed', 'killed']" in printed, printed + graded["rows"]["spread"]["reason"]
    reason = graded["rows"]["spread"]["reason"]
    assert f"over the {LIMITS.memory_mb} MiB memory cap" in reason


def test_too_many_processes_are_stopped(graded):
    printed = outputs_text(autograded(graded["out"], "spawner"))
    killed = int(re.search(r"KILLED (\d+)", printed).group(1))
    # Children forked after the last kill may live on, as long as they stay under the cap.
    assert killed >= 100 - launcher.MAX_PROCESSES, printed + graded["rows"]["spawner"]["reason"]
    assert "processes at once, over the process cap" in graded["rows"]["spawner"]["reason"]


def test_filling_the_runtime_folder_stops_the_kernel(graded):
    row = graded["rows"]["socketfill"]
    assert row["status"] == "crashed" and row["total"] == ""
    assert "filled its runtime (socket) folder" in row["reason"]


def test_student_content_cannot_run_script(graded):
    out = graded["out"]
    for student in ("scripts", "writer"):
        page = (out / "feedback" / f"{student}.html").read_text()
        assert ActiveContent(page).active == [], student
        nb = nbformat.read(autograded(out, student), as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                for output in cell.get("outputs", []):
                    data = output.get("data", {})
                    assert set(data) <= SAFE_MIMES, set(data)
                    assert ActiveContent(data.get("text/html", "")).active == []
                    assert json.dumps(output.get("metadata", {})).count(MARK) == 0
            else:
                assert ActiveContent(cell.source).active == []
                assert not re.search(r"\]\(\s*javascript:", cell.source, re.IGNORECASE)
    # Harmless content stays: the bold text and the markdown math.
    assert "<b>bold</b>" in (out / "feedback" / "scripts.html").read_text()
    writer = (out / "feedback" / "writer.html").read_text()
    assert "Student notes" in writer and "a link" in writer

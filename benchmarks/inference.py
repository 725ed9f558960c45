"""Lab 06's benchmark: the issue's figures, from one run of the lab's solutions notebook.

Run with ``python benchmarks/inference.py`` (full budget unless ``FLOWLAB_BUDGET`` says otherwise).
The solutions notebook is the one place the lab's reference code lives, so this runs it top to
bottom and prints what its cells print:

* two moons: ``log Z`` estimated by importance sampling with the reverse-KL IAF and with a
  Gaussian proposal (estimate, standard error, error against the true ``log Z``, ESS), and both
  flows' KLs estimated both ways;
* logistic regression on breast cancer: ELBO, importance-sampled log evidence, ESS and held-out
  predictive accuracy of the flow and the mean-field posterior;
* distillation: KL(student || teacher) and sampling seconds of teacher (MAF) and student (IAF)
  at D = 2, 16 and 64;
* the notebook's wall time.
"""

import os

import nbformat

from flowlab import course

LAB = "lab06_inference"


def printed(notebook: nbformat.NotebookNode) -> str:
    """Everything the notebook's code cells printed, minus the progress lines of training."""
    lines = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stdout":
                lines += [line.rsplit("\r", 1)[-1] for line in output["text"].splitlines()]
    return "\n".join(line for line in lines if line.strip())


def main() -> None:
    budget = os.environ.get("FLOWLAB_BUDGET", "full")
    notebook, seconds = course.run_solutions(LAB, budget)
    print(f"{LAB}, budget {budget}")
    print(printed(notebook))
    print(f"notebook wall time: {seconds:.0f} s")


if __name__ == "__main__":
    main()

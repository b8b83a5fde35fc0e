"""lightning-grader: sandboxed grading of PyTorch Lightning course submissions.

The trust boundary is the folder layout:

- `host/`: trusted. The CLI and four steps: prepare, execute, judge, publish. Never imports
  student code.
- `sandbox/`: backends that run the runner in isolation behind one small interface.
- `runner/`: runs *inside* the sandbox, next to student code. Its output is never trusted.
- `rubric/`: the rubric models and their YAML loading.
- `contract.py`: the pydantic models that cross the boundary, in both directions.
"""

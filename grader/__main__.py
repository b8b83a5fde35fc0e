"""`python -m grader`: the `grade` command, for where its script is not on PATH."""

from grader.host.cli import main

if __name__ == "__main__":
    main()

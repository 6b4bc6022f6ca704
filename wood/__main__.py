"""`python -m wood ...` runs the `wood` command (for launchers that take a module, e.g. `accelerate launch -m wood`)."""

from wood.cli import main

if __name__ == "__main__":
    main()

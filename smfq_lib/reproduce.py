"""``python -m smfq_lib.reproduce --profile quick|full [--only NN ...]``: runs the chapters
(:mod:`smfq_lib.chapters.reproduce`)."""

from smfq_lib.chapters.reproduce import main

if __name__ == "__main__":
    raise SystemExit(main())

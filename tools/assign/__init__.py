"""The student notebooks, made in small stages (`make assignments`).

Each stage is one transformation with its own tests (tests/test_assignments.py):

    book       the one reader of _config.yml and _toc.yml: chapters in the
               table of contents' order, TeX macros, the repository, the
               student package's address
    modules    which hwlib modules hold answers and which are neutral
    parse      a chapter (MyST) -> cells outside blocks, exercise and
               solution blocks
    select     the allow-list: what of a chapter the student sees
    markdown   MyST -> Jupyter markdown (refuses glue placeholders)
    answers    tools/answers/<chapter>.py: the student's code cells, with the
               reference answers between nbgrader's solution markers
    cells      nbgrader cells (written answer, code answer, locked check)
    notebook   the student or the nbgrader source notebook of a chapter
    index      assignments.md, in the table of contents' order
    write      writes a notebook only over what it wrote itself
"""

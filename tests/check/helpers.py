"""Small helpers shared by the check tests."""


def failed(report):
    return [case for case, ok, _ in report.lines if not ok]


def text(report):
    return " | ".join(d for _, _, d in report.lines)

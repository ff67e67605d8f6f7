"""Progress: bars on a terminal, a few whole lines in a log file or pipe."""

import io

from musiczoo.progress import LineProgress, progress_bar
from tqdm.auto import tqdm


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_log_gets_one_line_per_tenth_and_never_a_carriage_return():
    log = io.StringIO()
    assert sum(1 for _ in progress_bar(range(237), desc="extract", unit="file", file=log)) == 237
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and len(lines) == 10
    assert lines[0].startswith("extract: 24/237 file (10%)") and lines[-1].startswith("extract: 237/237 file (100%)")


def test_manual_updates_resume_from_initial_and_show_the_postfix_once_at_the_end():
    log = io.StringIO()
    with progress_bar(total=4, initial=2, desc="epoch 2/3", unit="step", file=log) as bar:
        for _ in range(2):
            bar.update()
            bar.set_postfix({"loss": "1.25"}, refresh=False)
    lines = log.getvalue().splitlines()
    assert [line.split(" in ")[0] for line in lines] == ["epoch 2/3: 3/4 step (75%)", "epoch 2/3: 4/4 step (100%)"]
    assert lines[-1].endswith("loss=1.25")
    disabled = io.StringIO()
    for _ in progress_bar(range(5), file=disabled, disable=True):
        pass
    assert disabled.getvalue() == ""


def test_a_terminal_gets_a_tqdm_bar():
    assert isinstance(progress_bar(range(3), file=Terminal()), tqdm)
    assert isinstance(progress_bar(range(3), file=io.StringIO()), LineProgress)

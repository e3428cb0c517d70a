"""A long command's progress on standard error: seed, import, migrate-to-postgres.

On a terminal, one line redrawn a few times a second (a bar once the total is known, songs
done, the rate, the time left); otherwise, as under a PaaS's release step or in a log, one
line every EVERY seconds. The command's own last line (on standard output) is unchanged.
The standard library does it in a few lines, so no progress-bar package is needed.
"""

import sys
import time

EVERY = 5.0  # seconds between lines when standard error is no terminal
REDRAW = 0.2  # seconds between redraws on a terminal
BAR = 24  # the bar's width, in characters
CHECK_EVERY = 256  # songs between looks at the clock: a look costs more than a song


class Progress:
    """Songs done out of `total` (None: unknown), or out of what `fraction()` says is done
    (0 to 1, for a file read as it goes). `doing` begins each line: "seed: added"."""

    def __init__(self, doing, total=None, fraction=None, stream=None, clock=time.monotonic):
        self.doing, self.total, self.fraction = doing, total, fraction
        self.stream = stream or sys.stderr
        self.terminal = self.stream.isatty()
        self.clock = clock
        self.started = self.shown = clock()
        self.done = self.unchecked = 0

    def counted(self, items):
        """The items, each counted as one song on the way through; finished after the last."""
        for item in items:
            yield item
            self.advance(1)
        self.finish()

    def advance(self, songs):
        self.done += songs
        self.unchecked += songs
        if self.unchecked < CHECK_EVERY:
            return
        self.unchecked = 0
        now = self.clock()
        if now - self.shown >= (REDRAW if self.terminal else EVERY):
            self.shown = now
            self.show(now)

    def show(self, now):
        share = self.share()
        elapsed = now - self.started
        rate = self.done / elapsed if elapsed > 0 else 0
        of_total = f" of {self.total:,}" if self.total is not None else ""
        parts = [f"{self.doing} {self.done:,}{of_total} songs", f"{rate:,.0f}/s"]
        if share:
            parts.append(f"{elapsed * (1 - share) / share:,.0f} s left")
        line = ", ".join(parts)
        if self.terminal:
            filled = round(BAR * (share or 0))
            bar = f"[{'#' * filled}{'.' * (BAR - filled)}] {share:4.0%} " if share else ""
            self.stream.write(f"\r{bar}{line}\033[K")
        else:
            self.stream.write(f"{line}\n")
        self.stream.flush()

    def share(self):
        """The part done, 0 to 1, or None when nothing says."""
        if self.fraction is not None:
            return min(max(self.fraction(), 0.0), 1.0)
        if self.total:
            return min(self.done / self.total, 1.0)
        return None

    def finish(self):
        """Leave the terminal's line clean for the command's last one."""
        if self.terminal and self.shown != self.started:
            self.stream.write("\r\033[K")
            self.stream.flush()

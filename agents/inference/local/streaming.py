"""Progress of a BATCHED generate, row by row (``generate(..., on_progress=...)``).

transformers' ``TextStreamer`` / ``TextIteratorStreamer`` refuse a batch of more than one row,
but a match is one batched generate for all its seats. ``generate(streamer=...)`` itself accepts
any ``transformers.generation.streamers.BaseStreamer``: it calls ``put`` once with the prompt ids
(``[rows, prompt length]``), then once per step with that step's tokens (``[rows]``), and
``end()`` when it stops. This streamer keeps each row's new tokens (a list append per step, on
the CPU copy generate already made) and decodes only every ``every`` steps, so the cost between
two calls is a few list appends; the decode itself is one ``decode`` per unfinished row.

A row ends at its first end-of-sequence token (generate pads a finished row with the pad token,
which may be that same token) or at its own ``max_new_tokens`` (the sampler forces an EOS
there): the same cut ``generate_batch`` applies to the final output, so the last progress a row
reports is its final text.
"""

from __future__ import annotations

from collections.abc import Callable

from transformers.generation.streamers import BaseStreamer

from agents.inference.base import ProgressCallback, RowProgress


class BatchProgressStreamer(BaseStreamer):
    def __init__(
        self,
        *,
        on_progress: ProgressCallback,
        decode: Callable[[list[int]], str],
        eos_ids: list[int],
        limits: list[int],
        every: int,
    ):
        self.on_progress = on_progress
        self.decode = decode
        self.eos_ids = frozenset(eos_ids)
        self.limits = limits
        self.every = max(int(every), 1)
        self.tokens: list[list[int]] = [[] for _ in limits]
        self.done = [False] * len(limits)
        self.texts = [""] * len(limits)
        self.decoded = [-1] * len(limits)  # token count each row's text was decoded at
        self.seen_prompt = False
        self.steps = 0
        self.calls = 0  # progress calls made (tests and the bench read it)

    def put(self, value) -> None:
        if not self.seen_prompt:
            # The first put is the prompt itself, which is not part of any answer.
            self.seen_prompt = True
            return
        columns = value.tolist()
        if value.dim() == 1:  # one token per row: the usual step
            columns = [[token] for token in columns]
        for row, new in enumerate(columns):
            if self.done[row]:
                continue
            for token in new:
                if token in self.eos_ids:
                    self.done[row] = True
                    break
                self.tokens[row].append(token)
                if len(self.tokens[row]) >= self.limits[row]:
                    self.done[row] = True
                    break
        self.steps += 1
        if self.steps % self.every == 0:
            self._report()

    def end(self) -> None:
        self.done = [True] * len(self.done)
        self._report()

    def _report(self) -> None:
        for row, tokens in enumerate(self.tokens):
            if self.decoded[row] != len(tokens):  # a row that did not move is not decoded again
                self.texts[row] = self.decode(tokens)
                self.decoded[row] = len(tokens)
        self.calls += 1
        self.on_progress(
            [
                RowProgress(text=text, tokens=len(tokens), done=done)
                for text, tokens, done in zip(self.texts, self.tokens, self.done, strict=True)
            ]
        )

"""The provider-agnostic request: what to ask, of which model, with which settings."""

from __future__ import annotations

from dataclasses import dataclass

from llm_client._internal.checks import check_int, check_number, check_text

__all__ = ["LLMRequest"]


@dataclass(frozen=True)
class LLMRequest:
    """One request to a chat model, independent of any provider.

    Every field can change what the model answers, so every field belongs in
    the cache key. Invalid values raise at construction, naming the field:

    - ``model``, ``prompt``: non-empty strings.
    - ``system_prompt``: None or a non-empty string (instructions sent before the prompt).
    - ``temperature``: None (not sent: the model's default) or 0.0 to 2.0.
    - ``max_tokens``: None (the provider's default) or an int >= 1.
    - ``top_p``: None (not sent) or a number in (0, 1].
    - ``reasoning_effort``: None (not sent) or the effort a reasoning model spends
      (OpenAI's ``"none"`` .. ``"high"``, ``"xhigh"`` on some models; the provider
      decides which it takes, and a 400 says when it does not).
    - ``stop``: a tuple of non-empty stop strings, whitespace such as ``"\\n\\n"`` included
      (a list is accepted and stored as a tuple).

    A setting left at None is never sent: current models refuse some sampling
    settings (a 400 names the one), so the request carries only what you set.
    """

    model: str
    prompt: str
    system_prompt: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    reasoning_effort: str | None = None

    def __post_init__(self) -> None:
        check_text("model", self.model)
        check_text("prompt", self.prompt)
        check_text("system_prompt", self.system_prompt, allow_none=True)
        if self.temperature is not None:
            check_number("temperature", self.temperature, minimum=0.0, maximum=2.0)
        check_text("reasoning_effort", self.reasoning_effort, allow_none=True)
        if self.max_tokens is not None:
            check_int("max_tokens", self.max_tokens, minimum=1)
        if self.top_p is not None:
            check_number("top_p", self.top_p, maximum=1.0, strictly_positive=True)
        if isinstance(self.stop, str) or not isinstance(self.stop, (tuple, list)):
            raise TypeError(f"stop must be a tuple of str, got {type(self.stop).__name__}")
        for item in self.stop:
            # Whitespace is a real stop sequence ("\n\n"), so only the empty string is refused.
            if not isinstance(item, str):
                raise TypeError(f"stop must hold only str, got {type(item).__name__}")
            if not item:
                raise ValueError("stop must not hold an empty string")
            if any("\ud800" <= ch <= "\udfff" for ch in item):
                raise ValueError("stop must hold valid Unicode text (it holds a lone surrogate)")
        object.__setattr__(self, "stop", tuple(self.stop))

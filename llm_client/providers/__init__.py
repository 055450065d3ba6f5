"""The providers: one small protocol, three implementations (each imported on first use)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llm_client import _lazy

if TYPE_CHECKING:
    from llm_client.providers.anthropic_messages import AnthropicProvider
    from llm_client.providers.base import AsyncProvider, LLMResponse, Provider
    from llm_client.providers.fake import FakeCall, FakeProvider, echo_reply
    from llm_client.providers.openai_chat import OpenAIProvider

#: Each module, and the names it exports here: imported on the first use of one of them.
_EXPORTS = _lazy.by_name(
    {
        "llm_client.providers.anthropic_messages": ("AnthropicProvider",),
        "llm_client.providers.base": ("AsyncProvider", "LLMResponse", "Provider"),
        "llm_client.providers.fake": ("FakeCall", "FakeProvider", "echo_reply"),
        "llm_client.providers.openai_chat": ("OpenAIProvider",),
    }
)

__all__ = [
    "AnthropicProvider",
    "AsyncProvider",
    "FakeCall",
    "FakeProvider",
    "LLMResponse",
    "OpenAIProvider",
    "Provider",
    "echo_reply",
]


def __getattr__(name: str) -> Any:
    return _lazy.load(__name__, _EXPORTS, name, globals())


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})

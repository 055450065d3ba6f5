"""The providers: one small protocol, three implementations."""

from llm_client.providers.anthropic_messages import AnthropicProvider
from llm_client.providers.base import AsyncProvider, LLMResponse, Provider
from llm_client.providers.fake import FakeCall, FakeProvider, echo_reply
from llm_client.providers.openai_chat import OpenAIProvider

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

"""The providers: one small protocol, three implementations (each imported on first use)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llm_client._internal.lazy import PROVIDERS_ALL as __all__  # noqa: F401
from llm_client._internal.lazy import providers_dir as __dir__  # noqa: F401
from llm_client._internal.lazy import providers_getattr as __getattr__  # noqa: F401

if TYPE_CHECKING:
    from llm_client._internal.anthropic_messages import AnthropicProvider as AnthropicProvider
    from llm_client._internal.fake_provider import (
        FakeCall as FakeCall,
    )
    from llm_client._internal.fake_provider import (
        FakeProvider as FakeProvider,
    )
    from llm_client._internal.fake_provider import (
        echo_reply as echo_reply,
    )
    from llm_client._internal.openai_chat import OpenAIProvider as OpenAIProvider
    from llm_client.providers.base import (
        AsyncProvider as AsyncProvider,
    )
    from llm_client.providers.base import (
        LLMResponse as LLMResponse,
    )
    from llm_client.providers.base import (
        Provider as Provider,
    )

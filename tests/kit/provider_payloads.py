"""Realistic response bodies of the two provider APIs, shared by the kit's provider tests.

The shapes follow the providers' documented JSON: an OpenAI ``chat.completion``
object and its ``{"error": {"message", "type", "param", "code"}}`` error body;
an Anthropic ``message`` object and its ``{"type": "error", "error": {"type",
"message"}}`` error body. The builders return fresh dicts, so a test may change
one without touching another test's copy.
"""

from __future__ import annotations

import copy
from typing import Any

OPENAI_BASE_URL = "https://api.openai.com/v1"
ANTHROPIC_BASE_URL = "https://api.anthropic.com"

OPENAI_MODEL = "gpt-4o-mini-2024-07-18"
ANTHROPIC_MODEL = "claude-3-5-haiku-20241022"

#: A key-shaped value that must never appear in a repr, an exception message or a log line.
SENTINEL_KEY = "sk-kit-SENTINEL-9f3c1e7a5b2d4c6e8a0b"

_OPENAI_COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
    "object": "chat.completion",
    "created": 1741569952,
    "model": OPENAI_MODEL,
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Paris is the capital of France.",
                "refusal": None,
                "annotations": [],
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 19,
        "completion_tokens": 8,
        "total_tokens": 27,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
    "service_tier": "default",
    "system_fingerprint": "fp_06737a9306",
}

_ANTHROPIC_MESSAGE: dict[str, Any] = {
    "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
    "type": "message",
    "role": "assistant",
    "model": ANTHROPIC_MODEL,
    "content": [{"type": "text", "text": "Paris is the capital of France."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 21,
        "output_tokens": 10,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    },
}

_OPENAI_ERRORS: dict[int, dict[str, Any]] = {
    400: {
        "message": "Invalid value for 'temperature': expected a number between 0 and 2.",
        "type": "invalid_request_error",
        "param": "temperature",
        "code": "invalid_value",
    },
    401: {
        "message": "Incorrect API key provided: sk-kit-**********************8a0b. "
        "You can find your API key at https://platform.openai.com/account/api-keys.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    },
    403: {
        "message": "Project does not have access to model gpt-4o-mini.",
        "type": "invalid_request_error",
        "param": None,
        "code": "model_not_found",
    },
    404: {
        "message": "The model `gpt-9` does not exist or you do not have access to it.",
        "type": "invalid_request_error",
        "param": None,
        "code": "model_not_found",
    },
    429: {
        "message": "Rate limit reached for gpt-4o-mini in organization org-kit on requests per min (RPM): "
        "Limit 3, Used 3, Requested 1. Please try again in 20s.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    },
    500: {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error",
        "param": None,
        "code": None,
    },
    503: {
        "message": "The engine is currently overloaded, please try again later.",
        "type": "server_error",
        "param": None,
        "code": None,
    },
}

_ANTHROPIC_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "max_tokens: Field required"),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "model: claude-9"),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}

#: What a proxy in front of the API sends on a 502: HTML, not JSON.
PROXY_HTML = (
    "<html><head><title>502 Bad Gateway</title></head>"
    "<body><center><h1>502 Bad Gateway</h1></center></body></html>"
)


def openai_completion(
    text: str | None = "Paris is the capital of France.",
    *,
    finish_reason: str = "stop",
    model: str = OPENAI_MODEL,
) -> dict[str, Any]:
    """A ``chat.completion`` object whose first choice says ``text``."""
    body = copy.deepcopy(_OPENAI_COMPLETION)
    body["model"] = model
    body["choices"][0]["message"]["content"] = text
    body["choices"][0]["finish_reason"] = finish_reason
    return body


def openai_tool_call_completion() -> dict[str, Any]:
    """A completion that called a tool: ``content`` is null, ``finish_reason`` is ``tool_calls``."""
    body = openai_completion(None, finish_reason="tool_calls")
    body["choices"][0]["message"]["tool_calls"] = [
        {
            "id": "call_abc123",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        }
    ]
    return body


def openai_refusal_completion() -> dict[str, Any]:
    """A completion the model refused: ``content`` is null and ``refusal`` says why."""
    body = openai_completion(None)
    body["choices"][0]["message"]["refusal"] = "I'm sorry, I can't help with that."
    return body


def openai_error(status: int, *, message: str | None = None) -> dict[str, Any]:
    """OpenAI's error body for ``status`` (400, 401, 403, 404, 429, 500, 503)."""
    error = dict(_OPENAI_ERRORS[status])
    if message is not None:
        error["message"] = message
    return {"error": error}


def anthropic_message(
    text: str = "Paris is the capital of France.",
    *,
    stop_reason: str = "end_turn",
    model: str = ANTHROPIC_MODEL,
) -> dict[str, Any]:
    """A Messages API ``message`` object with one text block saying ``text``."""
    body = copy.deepcopy(_ANTHROPIC_MESSAGE)
    body["model"] = model
    body["content"] = [{"type": "text", "text": text}]
    body["stop_reason"] = stop_reason
    return body


def anthropic_tool_use_message(*, with_text: str | None = None) -> dict[str, Any]:
    """A message that ends in a tool call; ``with_text`` adds a text block before it."""
    body = anthropic_message(stop_reason="tool_use")
    blocks: list[dict[str, Any]] = []
    if with_text is not None:
        blocks.append({"type": "text", "text": with_text})
    blocks.append(
        {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather", "input": {"city": "Paris"}}
    )
    body["content"] = blocks
    return body


def anthropic_error(status: int, *, message: str | None = None) -> dict[str, Any]:
    """Anthropic's error body for ``status`` (400, 401, 403, 404, 413, 429, 500, 529)."""
    error_type, default_message = _ANTHROPIC_ERRORS[status]
    return {
        "type": "error",
        "error": {"type": error_type, "message": message if message is not None else default_message},
        "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy",
    }


def error_body(provider: str, status: int, *, message: str | None = None) -> dict[str, Any]:
    """The error body ``provider`` ("openai" or "anthropic") sends with ``status``."""
    if provider == "openai":
        return openai_error(status if status in _OPENAI_ERRORS else 500, message=message)
    return anthropic_error(status if status in _ANTHROPIC_ERRORS else 500, message=message)


def success_body(provider: str, text: str = "Paris is the capital of France.") -> dict[str, Any]:
    """A successful answer from ``provider`` ("openai" or "anthropic") saying ``text``."""
    return openai_completion(text) if provider == "openai" else anthropic_message(text)


#: The endpoint path each provider posts to, relative to its base URL.
ENDPOINTS = {"openai": (OPENAI_BASE_URL, "/chat/completions"), "anthropic": (ANTHROPIC_BASE_URL, "/v1/messages")}

#: The environment variable each provider reads its key from.
KEY_VARIABLES = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}


# -- 429s that waiting does not cure, and the headers providers send with their errors ----------
# Written from the providers' documented error codes and the bodies their SDKs' users report
# (openai/openai-python and anthropics/anthropic-sdk-python issue threads); not copied.

#: (provider, description, status, headers, body) of 429s that mean "out of credit or over a
#: limit no wait within a call lifts": a QuotaExceededError, never retried.
QUOTA_429S: list[tuple[str, str, dict[str, str], dict[str, Any]]] = [
    (
        "openai",
        "insufficient_quota",
        {"x-request-id": "req_1a2b3c"},
        {
            "error": {
                "message": "You exceeded your current quota, please check your plan and billing details. "
                "For more information on this error, read the docs: "
                "https://platform.openai.com/docs/guides/error-codes/api-errors.",
                "type": "insufficient_quota",
                "param": None,
                "code": "insufficient_quota",
            }
        },
    ),
    (
        "openai",
        "billing hard limit",
        {},
        {
            "error": {
                "message": "Billing hard limit has been reached.",
                "type": "invalid_request_error",
                "param": None,
                "code": "billing_hard_limit_reached",
            }
        },
    ),
    (
        "openai",
        "project spend limit",
        {},
        {
            "error": {
                "message": "You have reached the monthly budget set for this project. "
                "Raise the project's spend limit to continue.",
                "type": "insufficient_quota",
                "param": None,
                "code": "insufficient_quota",
            }
        },
    ),
    (
        "openai",
        "one request over the tokens-per-minute limit",
        {"x-ratelimit-limit-tokens": "30000", "x-ratelimit-remaining-tokens": "30000"},
        {
            "error": {
                "message": "Request too large for gpt-4o in organization org-kit on tokens per min (TPM): "
                "Limit 30000, Requested 48210. The input or output tokens must be reduced in order to run "
                "successfully. Visit https://platform.openai.com/account/rate-limits to learn more.",
                "type": "tokens",
                "param": None,
                "code": "rate_limit_exceeded",
            }
        },
    ),
    (
        "anthropic",
        "workspace spend limit",
        {"request-id": "req_011CSHoEeqs5C35K2UUqR7Fy"},
        {
            "type": "error",
            "error": {
                "type": "rate_limit_error",
                "message": "You have reached your specified workspace API usage limits. "
                "You will regain access on 2026-12-01 at 00:00 UTC.",
            },
        },
    ),
]

#: (provider, headers, body) of ordinary 429s: a RateLimitError, retried after the wait asked.
RATE_LIMIT_429S: list[tuple[str, dict[str, str], dict[str, Any], float | None]] = [
    (
        "openai",
        {
            "retry-after-ms": "20000",
            "retry-after": "20",
            "x-ratelimit-limit-requests": "3",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": "20s",
        },
        {
            "error": {
                "message": "Rate limit reached for gpt-4o-mini in organization org-kit on requests per min (RPM): "
                "Limit 3, Used 3, Requested 1. Please try again in 20s. "
                "Visit https://platform.openai.com/account/rate-limits to learn more.",
                "type": "requests",
                "param": None,
                "code": "rate_limit_exceeded",
            }
        },
        20.0,
    ),
    (
        "anthropic",
        {
            "retry-after": "15",
            "anthropic-ratelimit-input-tokens-limit": "50000",
            "anthropic-ratelimit-input-tokens-remaining": "0",
            "anthropic-ratelimit-input-tokens-reset": "2026-11-29T12:00:15Z",
        },
        {
            "type": "error",
            "error": {
                "type": "rate_limit_error",
                "message": "This request would exceed the rate limit for your organization of 50,000 input "
                "tokens per minute. Please try again later.",
            },
        },
        15.0,
    ),
]

#: Anthropic's 529 as it comes: overloaded, with the headers the SDK reads.
ANTHROPIC_OVERLOADED = (
    529,
    {"retry-after": "4", "x-should-retry": "true"},
    {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
)

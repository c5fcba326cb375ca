"""Handler tests for POST /v3/{domain}/messages(.mime): Mailgun's answers, good and bad."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import FormData
from support import AUTH, Client, basic

from mockgun import Config, create_app
from mockgun.api.form import MAX_FIELDS

MakeClient = Callable[..., Awaitable[Client]]
GOOD = {"from": "Sender <a@example.com>", "to": "b@example.com", "subject": "hi", "text": "hello"}


async def send(
    client: Client, data: Any, *, path: str = "/v3/example.com/messages", **kw: Any
) -> tuple[int, str]:
    resp = await client.post(path, data=data, headers=kw.pop("headers", AUTH), **kw)
    return resp.status, await resp.text()


async def stored(client: Client) -> list[dict[str, Any]]:
    resp = await client.get("/mockgun/messages")
    return list((await resp.json())["items"])


def multipart(fields: dict[str, Any] | list[tuple[str, Any]]) -> FormData:
    form = FormData()
    items = fields.items() if isinstance(fields, dict) else fields
    for name, value in items:
        form.add_field(name, value)
    form._is_multipart = True  # force multipart even without files, as curl -F does
    return form


async def test_urlencoded_send_is_queued_and_stored(client: Client) -> None:
    resp = await client.post("/v3/example.com/messages", data=GOOD, headers=AUTH)
    assert resp.status == 200
    assert resp.content_type == "application/json"
    body = await resp.json()
    assert body["message"] == "Queued. Thank you."
    assert body["id"].startswith("<") and body["id"].endswith("@example.com>")
    [message] = await stored(client)
    assert message["id"] == body["id"]
    assert message["subject"] == "hi" and message["text"] == "hello"
    assert message["to"] == [{"name": "", "address": "b@example.com"}]
    assert message["tls"] == {"conn_id": None, "version": None, "cipher": None}


async def test_multipart_repeated_and_comma_separated_recipients(client: Client) -> None:
    fields = [
        ("from", "a@example.com"),
        ("to", 'b@example.com, "Last, First" <c@example.com>'),
        ("to", "d@example.com"),
        ("cc", "e@example.com,f@example.com"),
        ("bcc", "g@example.com"),
        ("to", "b@example.com"),  # a duplicate: Mailgun ignores it
        ("subject", "hi"),
        ("html", "<p>hello</p>"),
        ("o:tag", "one"),
        ("o:tag", "two"),
    ]
    status, _ = await send(client, multipart(fields))
    assert status == 200
    [message] = await stored(client)
    assert [t["address"] for t in message["to"]] == [
        "b@example.com",
        "c@example.com",
        "d@example.com",
        "b@example.com",
    ]
    assert message["to"][1]["name"] == "Last, First"
    assert message["recipients"] == [
        "b@example.com",
        "c@example.com",
        "d@example.com",
        "e@example.com",
        "f@example.com",
        "g@example.com",
    ]
    assert message["fields"]["o:tag"] == ["one", "two"]


async def test_attachments_are_kept_with_name_type_size_and_bytes(client: Client) -> None:
    form = FormData()
    for name, value in GOOD.items():
        form.add_field(name, value)
    form.add_field("attachment", b"col1,col2\n", filename="report.csv", content_type="text/csv")
    form.add_field("attachment", b"\x89PNG\r\n", filename="pixel.png")
    form.add_field("inline", b"GIF89a", filename="logo.gif", content_type="image/gif")
    status, body = await send(client, form)
    assert status == 200, body
    [listed] = await stored(client)
    resp = await client.get(f"/mockgun/messages/{listed['id']}")
    detail = await resp.json()
    assert [
        (a["field"], a["filename"], a["content_type"], a["size"]) for a in detail["attachments"]
    ] == [
        ("attachment", "report.csv", "text/csv", 10),
        ("attachment", "pixel.png", "application/octet-stream", 6),
        ("inline", "logo.gif", "image/gif", 6),
    ]
    assert detail["attachments"][0]["data_base64"] == "Y29sMSxjb2wyCg=="


MISSING = "Need at least one of 'text', 'html', 'amp-html' or 'template' parameters specified"
BAD_INPUTS = [
    ({k: v for k, v in GOOD.items() if k != "from"}, 400, "from parameter is missing"),
    ({**GOOD, "from": ""}, 400, "from parameter is missing"),
    ({k: v for k, v in GOOD.items() if k != "to"}, 400, "to parameter is missing"),
    ({**GOOD, "to": " "}, 400, "to parameter is missing"),
    ({k: v for k, v in GOOD.items() if k != "subject"}, 400, "subject parameter is missing"),
    ({k: v for k, v in GOOD.items() if k != "text"}, 400, MISSING),
    ({**GOOD, "text": ""}, 400, MISSING),
    (
        {**GOOD, "html": "<p>x</p>", "template": "welcome"},
        400,
        "Only one parameters 'html' or 'template' is allowed",
    ),
    (
        {**GOOD, "to": "not-an-address"},
        400,
        "to parameter is not a valid address. please check documentation",
    ),
    (
        {**GOOD, "from": "a@@example.com"},
        400,
        "from parameter is not a valid address. please check documentation",
    ),
    (
        {**GOOD, "cc": "x y@example.com"},
        400,
        "cc parameter is not a valid address. please check documentation",
    ),
    (
        {**GOOD, "to": ",".join(f"u{i}@example.com" for i in range(1001))},
        400,
        "Too many recipients, max is 1000",
    ),
    (
        {**GOOD, "v:big": "x" * 17000},
        400,
        "Send options (parameters starting with o:, h:, or v:) are limited to 16 kB total",
    ),
    (
        {**GOOD, "recipient-variables": "{not json"},
        400,
        "'recipient-variables' parameter is not a valid JSON",
    ),
]


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
@pytest.mark.parametrize(("data", "status", "message"), BAD_INPUTS)
async def test_bad_sends_get_mailguns_status_and_message(
    client: Client, encoding: str, data: dict[str, str], status: int, message: str
) -> None:
    body = multipart(data) if encoding == "multipart" else data
    resp = await client.post("/v3/example.com/messages", data=body, headers=AUTH)
    assert resp.status == status
    assert await resp.json() == {"message": message}
    assert await stored(client) == []
    # ...and the server keeps serving.
    assert (await send(client, GOOD))[0] == 200


async def test_template_may_stand_in_for_from_subject_and_body(client: Client) -> None:
    status, body = await send(client, {"to": "b@example.com", "template": "welcome"})
    assert status == 200, body


@pytest.mark.parametrize(
    "auth_header",
    [
        None,
        "Basic " + "!!!not-base64",
        basic("user", "key-test")["Authorization"],
        basic("api", "")["Authorization"],
        "Bearer key-test",
    ],
)
async def test_missing_or_wrong_credentials_get_plain_forbidden(
    client: Client, auth_header: str | None
) -> None:
    headers = {"Authorization": auth_header} if auth_header else {}
    resp = await client.post("/v3/example.com/messages", data=GOOD, headers=headers)
    assert resp.status == 401
    assert resp.content_type == "text/plain"
    assert await resp.text() == "Forbidden"
    assert await stored(client) == []


async def test_configured_api_key_is_the_only_one_accepted(aiohttp_client: MakeClient) -> None:
    client = await aiohttp_client(create_app(Config(api_key="key-right")))
    wrong = await send(client, GOOD, headers=basic("api", "key-wrong"))
    assert wrong == (401, "Forbidden")
    right = await send(client, GOOD, headers=basic("api", "key-right"))
    assert right[0] == 200


async def test_unknown_domain_gets_domain_not_found(aiohttp_client: MakeClient) -> None:
    client = await aiohttp_client(create_app(Config(domains=frozenset({"example.com"}))))
    status, body = await send(client, GOOD, path="/v3/other.org/messages")
    assert (status, body) == (404, '{"message": "Domain not found: other.org"}')
    assert (await send(client, GOOD, path="/v3/example.com/messages"))[0] == 200


async def test_oversize_request_gets_413(aiohttp_client: MakeClient) -> None:
    client = await aiohttp_client(create_app(Config(max_message_size=1024 * 1024)))
    form = FormData()
    for name, value in GOOD.items():
        form.add_field(name, value)
    form.add_field("attachment", b"x" * (1024 * 1024 + 1), filename="big.bin")
    resp = await client.post("/v3/example.com/messages", data=form, headers=AUTH)
    assert resp.status == 413
    assert await resp.json() == {"message": "request size exceeds 1.0MiB limit"}
    assert await stored(client) == []


async def test_oversize_chunked_request_without_length_gets_413(
    aiohttp_client: MakeClient,
) -> None:
    client = await aiohttp_client(create_app(Config(max_message_size=64 * 1024)))

    async def body() -> AsyncIterator[bytes]:
        yield b"from=a%40example.com&to=b%40example.com&subject=hi&text="
        for _ in range(100):
            yield b"x" * 1024

    resp = await client.post(
        "/v3/example.com/messages",
        data=body(),
        headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert resp.status == 413
    assert (await resp.json())["message"] == "request size exceeds 64.0KiB limit"


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        ("multipart/form-data", b"no boundary here", "malformed multipart/form-data request"),
        (
            "multipart/form-data; boundary=XX",
            b"--XX\r\nContent-Disposition: form-data\r\n\r\nnameless\r\n--XX--\r\n",
            "malformed multipart/form-data request",
        ),
        (
            "multipart/form-data; boundary=XX",
            b"garbage that never mentions the boundary",
            "malformed multipart/form-data request",
        ),
        (
            "application/x-www-form-urlencoded",
            b"from=a%40example.com&to=%zz",
            "unable to parse request: invalid URL escape",
        ),
        (
            "application/x-www-form-urlencoded",
            b"from=a%40example.com&to=%ff%fe",
            "unable to parse request: invalid UTF-8 in form data",
        ),
        (
            "application/json",
            b'{"from": "a@example.com"}',
            "Invalid request content type. Expecting 'multipart/form-data' or "
            "'application/x-www-form-urlencoded' but got 'application/json'",
        ),
    ],
)
async def test_malformed_bodies_get_400_not_500(
    client: Client, content_type: str, body: bytes, message: str
) -> None:
    resp = await client.post(
        "/v3/example.com/messages", data=body, headers={**AUTH, "Content-Type": content_type}
    )
    assert resp.status == 400
    assert await resp.json() == {"message": message}
    assert (await send(client, GOOD))[0] == 200


MIME = (
    b"From: Sender <a@example.com>\r\nTo: b@example.com\r\nSubject: raw mime\r\n"
    b"Content-Type: text/plain\r\n\r\nhello from mime\r\n"
)


async def test_mime_send_as_file_part(client: Client) -> None:
    form = FormData()
    form.add_field("to", "b@example.com")
    form.add_field("message", MIME, filename="message.eml", content_type="message/rfc822")
    status, body = await send(client, form, path="/v3/example.com/messages.mime")
    assert status == 200, body
    [listed] = await stored(client)
    assert listed["endpoint"] == "messages.mime" and listed["subject"] == "raw mime"
    detail = await (await client.get(f"/mockgun/messages/{listed['id']}")).json()
    assert detail["mime"].encode() == MIME
    assert detail["attachments"] == []


async def test_mime_send_as_plain_field_like_mailgun_js(client: Client) -> None:
    form = multipart([("to", "b@example.com"), ("message", MIME.decode())])
    status, body = await send(client, form, path="/v3/example.com/messages.mime")
    assert status == 200, body


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ([("message", MIME.decode())], "to parameter is missing"),
        ([("to", "b@example.com")], "message parameter is missing"),
        ([("to", "b@example.com"), ("message", "")], "message parameter is missing"),
    ],
)
async def test_bad_mime_sends(client: Client, fields: list[tuple[str, str]], message: str) -> None:
    status, body = await send(client, multipart(fields), path="/v3/example.com/messages.mime")
    assert (status, body) == (400, f'{{"message": "{message}"}}')


async def test_mime_send_must_be_multipart(client: Client) -> None:
    data = {"to": "b@example.com", "message": MIME.decode()}
    resp = await client.post("/v3/example.com/messages.mime", data=data, headers=AUTH)
    assert resp.status == 400
    assert (await resp.json())["message"] == (
        "Invalid request content type. Expecting 'multipart/form-data' but got "
        "'application/x-www-form-urlencoded'"
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v3/ips"), ("GET", "/v3/example.com/messages"), ("PUT", "/nope")],
)
async def test_unemulated_paths_get_a_json_404_naming_them(
    client: Client, method: str, path: str
) -> None:
    resp = await client.request(method, path, headers=AUTH)
    assert resp.status == 404
    message = (await resp.json())["message"]
    assert f"mockgun does not emulate {method} {path}" in message


async def test_huge_field_counts_get_400(client: Client) -> None:
    body = "&".join(f"v:k{i}=x" for i in range(MAX_FIELDS + 1)).encode()
    resp = await client.post(
        "/v3/example.com/messages",
        data=body,
        headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert resp.status == 400
    assert await resp.json() == {
        "message": f"unable to parse request: more than {MAX_FIELDS} form fields"
    }
    assert (await send(client, GOOD))[0] == 200


@pytest.mark.parametrize(
    ("disposition", "received", "header_name"),
    [
        ('filename="../../etc/passwd"', "../../etc/passwd", "passwd"),
        ('filename="/abs/path/report.pdf"', "abs/path/report.pdf", "report.pdf"),
        ('filename="C:\\\\Users\\\\me\\\\bill.pdf"', "C:\\Users\\me\\bill.pdf", "bill.pdf"),
        ("filename*=UTF-8''bad%01name%7F.txt", "bad\x01name\x7f.txt", "bad_name_.txt"),
        ('filename=".."', "..", "attachment"),
    ],
)
async def test_hostile_attachment_names_are_kept_and_served_safely(
    client: Client, disposition: str, received: str, header_name: str
) -> None:
    boundary = "B0undary"
    body = (
        "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
            for k, v in GOOD.items()
        )
        + f'--{boundary}\r\nContent-Disposition: form-data; name="attachment"; {disposition}'
        f"\r\n\r\nDATA\r\n--{boundary}--\r\n"
    ).encode()
    resp = await client.post(
        "/v3/example.com/messages",
        data=body,
        headers={**AUTH, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert resp.status == 200, await resp.text()
    message_id = (await resp.json())["id"]
    detail = await (await client.get(f"/mockgun/messages/{message_id}")).json()
    [attachment] = detail["attachments"]
    assert attachment["filename"] == received  # kept as the server received it
    download = await client.get(attachment["download"])
    assert await download.read() == b"DATA"
    assert f'filename="{header_name}"' in download.headers["Content-Disposition"]
    eml = await (await client.get(f"/mockgun/messages/{message_id}.eml")).read()
    assert f'filename="{header_name}"'.encode() in eml
    assert (await send(client, GOOD))[0] == 200

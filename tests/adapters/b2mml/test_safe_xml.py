"""Hostile XML is refused before anything in it takes effect: no entity, no file, no network."""
from __future__ import annotations

import socket

import pytest

from adapters.b2mml.safe_xml import parse_untrusted
from hub.errors import SkippableError

SECRET = "top-secret-7c1e9"


def billion_laughs() -> str:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    return f'<?xml version="1.0"?><!DOCTYPE lolz [{entities}]><MaterialLot><ID>&lol9;</ID></MaterialLot>'


def refuse(data: bytes) -> SkippableError:
    with pytest.raises(SkippableError) as info:
        parse_untrusted(data, "in.xml", "B2MML")
    return info.value


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_entity_bomb_is_refused_as_a_dtd(encoding):
    text = billion_laughs()
    if encoding == "utf-16":
        text = text.replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
    error = refuse(text.encode(encoding))
    assert error.code == "B2MML_DTD_FORBIDDEN" and error.where == "in.xml"


def test_external_file_entity_is_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    data = (f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file://{secret}">]>'
            f"<MaterialLot><ID>&e;</ID></MaterialLot>").encode()
    error = refuse(data)
    assert error.code == "B2MML_DTD_FORBIDDEN"
    assert SECRET not in str(error)


def test_network_entities_and_external_dtds_never_connect():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    port = listener.getsockname()[1]
    try:
        for data in (f'<!DOCTYPE x SYSTEM "http://127.0.0.1:{port}/x.dtd"><x/>',
                     f'<!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:{port}/p">%p;]><x/>',
                     f'<!DOCTYPE x [<!ENTITY e SYSTEM "http://127.0.0.1:{port}/e">]><x>&e;</x>'):
            assert refuse(data.encode()).code == "B2MML_DTD_FORBIDDEN"
        # a connection attempt would sit in the backlog whether or not anyone accepted it
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()


def test_not_xml_names_the_line():
    error = refuse(b"<a>\n<b></a>")
    assert error.code == "B2MML_NOT_XML" and error.where == "in.xml:2"


def test_size_is_bounded_before_parsing():
    with pytest.raises(SkippableError) as info:
        parse_untrusted(b"<a>" + b"x" * 100 + b"</a>", "big.xml", "B2MML", max_bytes=50)
    assert info.value.code == "B2MML_TOO_LARGE"


def test_plain_documents_in_utf16_parse():
    root = parse_untrusted('<?xml version="1.0" encoding="UTF-16"?><a>电机</a>'.encode("utf-16"), "ok.xml")
    assert root.text == "电机"

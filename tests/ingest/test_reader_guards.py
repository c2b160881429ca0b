"""What the readers refuse, and what they must keep accepting (issue 11, items 1, 3, 4 and 8).

The corpus (tests/data/malformed) holds each refusal's exact message on both engines; these
tests pin the details around them: where a quote opened, which encodings are used, that
legitimate files still import, and that a named pipe cannot hang a real `retainly` process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from retainly.errors import FileFormatError
from retainly.ingest.readers import read_table

ROOT = Path(__file__).resolve().parents[2]
HEADER = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"


def row(number: int, description: str = "GLASS BALL", country: str = "United Kingdom") -> str:
    return f"{100000 + number},85048,{description},12,2010-11-30 09:00:00,6.95,13085,{country}\n"


def refusal(path: Path, **options) -> str:
    with pytest.raises(FileFormatError) as refused:
        read_table(path, **options)
    return str(refused.value)


# -- item 1: quotes ---------------------------------------------------------------------------

def test_unclosed_quote_in_a_field_after_multi_line_values_names_its_own_line(tmp_path):
    # Row 1 spans lines 2-3 (a legitimate two-line description); row 2's quote opens on line 4.
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + row(1, '"GLASS\nBALL"') + row(2, '"BOTTLE') + row(3))
    assert refusal(path).startswith(f"{path}:4: column Description: a quote opens here and never closes, "
                                    "so everything from here to the end of the file (line 5)")


def test_a_runaway_longer_than_the_csv_field_limit_is_still_named(tmp_path):
    # 3,000 rows of about 75 characters: the runaway value is far beyond Python's 131,072 default.
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + row(1, '"GLASS BALL') + "".join(row(n) for n in range(2, 3002)))
    assert refusal(path).startswith(f"{path}:2: column Description: a quote opens here and never closes")


def test_multi_line_addresses_with_commas_are_not_rows(tmp_path):
    # Three columns; "Flat 2, 1 Main St, Springfield" has three fields, but "Flat 2" is no customer id.
    path = tmp_path / "customers.csv"
    path.write_text('customer_id,name,address\n1001,Ana,"c/o Bob\nFlat 2, 1 Main St, Springfield\nIL, USA"\n'
                    '1002,Bob,"PO Box 7\nOslo, Norway"\n1003,Cy,Rome\n')
    raw = read_table(path)
    assert raw.frame["address"].tolist() == ["c/o Bob\nFlat 2, 1 Main St, Springfield\nIL, USA",
                                             "PO Box 7\nOslo, Norway", "Rome"]
    assert raw.line.tolist() == [2, 5, 7]


def test_a_note_that_holds_a_whole_row_is_refused(tmp_path):
    # The quote closes (at the end of the value), but the value took in a line shaped as a row.
    path = tmp_path / "customers.csv"
    path.write_text('customer_id,name,note\n1001,Ana,"call first\n1002,Bob,VIP"\n1003,Cy,\n')
    assert refusal(path) == (f"{path}:2: column note: a quote opens here and closes only on line 3, so line 3 would "
                             'be read as part of one value although it reads as a row; close the quote, or double '
                             'it ("") to keep it as text, and import again')


def test_carriage_return_line_ends_are_read(tmp_path):
    # Old Mac exports end lines with CR only; a ragged row sends the file down the careful path.
    path = tmp_path / "orders.csv"
    path.write_bytes((HEADER + row(1) + row(2).rstrip("\n") + ",extra\n" + row(3)).replace("\n", "\r").encode())
    raw = read_table(path)
    assert raw.line.tolist() == [2, 4]
    assert raw.malformed["line"].tolist() == [3]


def test_a_long_line_of_quotes_and_commas_does_not_stall_delimiter_detection(tmp_path):
    # csv.Sniffer's regular expressions took minutes on such a line (100 s for 120,000 characters).
    (tmp_path / "orders.csv").write_text(HEADER + ',"' * 120_000 + "\n" + row(1))
    done = run_retainly(tmp_path, "orders.csv", "--preset", "online-retail-ii")
    assert "unexpected" not in done.stderr
    assert done.returncode in (0, 1)


def test_a_header_name_over_several_lines_is_refused(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text('Invoice,"StockCode\n' + row(1))
    assert refusal(path) == (f"{path}:1: the name of column 2 runs over several lines; a quote in the header is "
                             "not closed: fix the header")


# -- item 3: encodings ----------------------------------------------------------------------

def test_valid_utf8_is_read_as_utf8_whatever_a_detector_guesses(tmp_path, workspace):
    from charset_normalizer import from_bytes

    # A name that already holds mojibake: valid UTF-8, which charset detection takes for cp949.
    data = "customer_id,name\nC1,Ã¤Ã¶Ã¼ÃŸ\nC2,Bob\n".encode()
    assert from_bytes(data).best().encoding != "utf_8"
    path = tmp_path / "customers.csv"
    path.write_bytes(data)
    result = workspace.data.import_file("customers", path)
    assert result.notes == []
    assert workspace.store.fetchall("SELECT name FROM customers ORDER BY external_id") == [("Ã¤Ã¶Ã¼ÃŸ",), ("Bob",)]


def test_a_legacy_file_is_read_in_its_encoding_and_says_so(tmp_path, workspace):
    path = tmp_path / "customers.csv"
    path.write_bytes("customer_id,name\nC1,Jörg Müller\nC2,Zoë Weiß\n".encode("cp1252"))
    result = workspace.data.import_file("customers", path)
    assert len(result.notes) == 1 and result.notes[0].startswith(f"{path} is not UTF-8: read as ")
    assert workspace.store.fetchall("SELECT name FROM customers ORDER BY external_id") == [("Jörg Müller",), ("Zoë Weiß",)]


def test_forcing_an_ascii_compatible_encoding_on_ascii_changes_nothing(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + row(1))
    assert read_table(path, encoding="latin-1").frame["Country"].tolist() == ["United Kingdom"]


def test_forcing_utf16_on_a_utf8_file_is_refused(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + row(1) + row(2) + "\n")  # 224 bytes: an even number, so UTF-16 can decode it
    assert len(path.read_bytes()) % 2 == 0
    message = refusal(path, encoding="utf-16")
    assert message.startswith(f"{path}:1: the file is valid UTF-8, and reading it as utf-16 would change 'Invoice,")
    assert message.endswith("; import it without `encoding`")


def test_forcing_the_right_legacy_encoding_reads_its_letters(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_bytes("customer_id,name\nC1,Jörg Müller\n".encode("cp1252"))
    assert read_table(path, encoding="cp1252").frame["name"].tolist() == ["Jörg Müller"]


def test_mixed_file_forced_as_utf8_names_the_mix_not_a_legacy_encoding(tmp_path):
    # The old advice (`encoding` cp1252) would garble the UTF-8 line: the message must not give it.
    path = tmp_path / "customers.csv"
    path.write_bytes("customer_id,name\nC1,Müller\n".encode() + "C2,Zoë\n".encode("cp1252"))
    assert refusal(path, encoding="utf-8") == (
        f"{path}:3: byte 0xeb is not UTF-8, but line 2 is (for example 'Müller'): the file mixes encodings; "
        "save it in one encoding (UTF-8 is best) and import again")


# -- item 4: headers that fold alike ----------------------------------------------------------

@pytest.mark.parametrize("other", ["UNIT-PRICE", "unitprice", " Unit  Price "])
def test_headers_equal_once_folded_are_refused(tmp_path, other):
    path = tmp_path / "orders.csv"
    path.write_text(f"order_id,unit_price,{other}\nA1,1,2\n")
    assert refusal(path) == (f"{path}:1: columns 'unit_price' and {other.strip()!r} name the same field (case, spaces, "
                             "hyphens and underscores do not count); rename or remove one")


def test_parquet_headers_are_checked_too(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "orders.parquet"
    pq.write_table(pa.table({"Customer ID": ["1"], "customer_id": ["2"]}), path)
    assert refusal(path) == (f"{path}: columns 'Customer ID' and 'customer_id' name the same field (case, spaces, "
                             "hyphens and underscores do not count); rename or remove one")


def test_a_mapping_reads_the_column_it_names_not_a_look_alike(tmp_path, workspace):
    # The mapping says the price is "Price"; the unmapped "unit_price" (listed first) must not win.
    path = tmp_path / "orders.csv"
    path.write_text("Order,Placed,Qty,unit_price,Price\nA1,2024-03-01,2,1.00,9.99\n")
    recipe = tmp_path / "mapping.toml"
    recipe.write_text('[columns]\norder_id = "Order"\nplaced_at = "Placed"\nquantity = "Qty"\nunit_price = "Price"\n')
    result = workspace.data.import_file("orders", path, mapping=recipe)
    assert result.rows_accepted == 1
    assert workspace.store.fetchall("SELECT unit_price FROM order_lines") == [(Decimal("9.99"),)]


# -- item 8: only regular files -------------------------------------------------------------

def run_retainly(tmp_path: Path, *args: str, stdin=subprocess.DEVNULL) -> subprocess.CompletedProcess:
    # A real process with a timeout: if a special file made the import wait, the test fails instead of hanging.
    return subprocess.run([sys.executable, "-m", "retainly", "--db", "store.duckdb", "import", "orders", *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, stdin=stdin,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src")})


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path):
    os.mkfifo(tmp_path / "orders.csv")
    done = run_retainly(tmp_path, "orders.csv")
    assert (done.returncode, done.stderr) == (
        1, "error: orders.csv: is a named pipe, not a regular file; save the export to a file and import that file\n")


def test_standard_input_redirected_from_a_file_is_read(tmp_path):
    (tmp_path / "export.csv").write_text(HEADER + row(1) + row(2))
    with open(tmp_path / "export.csv") as handle:
        done = run_retainly(tmp_path, "/dev/stdin", "--preset", "online-retail-ii", stdin=handle)
    assert done.returncode == 0, done.stderr
    assert "2 of 2 rows imported" in done.stdout


def test_standard_input_from_a_pipe_is_refused(tmp_path):
    # Nothing is ever written to the pipe: reading it would wait forever.
    reader, writer = os.pipe()
    try:
        done = run_retainly(tmp_path, "/dev/stdin", stdin=reader)
    finally:
        os.close(reader)
        os.close(writer)
    assert done.returncode == 1
    assert done.stderr == ("error: /dev/stdin: links to /proc/self/fd/0, which is a named pipe, not a regular file; "
                           "save the export to a file and import that file\n")


def test_a_link_to_a_regular_file_is_followed(tmp_path):
    (tmp_path / "real.csv").write_text(HEADER + row(1))
    (tmp_path / "orders.csv").symlink_to("real.csv")
    assert read_table(tmp_path / "orders.csv").frame["Invoice"].tolist() == ["100001"]


def test_a_two_link_loop_is_a_loop(tmp_path):
    (tmp_path / "a.csv").symlink_to("b.csv")
    (tmp_path / "b.csv").symlink_to("a.csv")
    assert refusal(tmp_path / "a.csv") == (f"{tmp_path / 'a.csv'}: symbolic link loop (the link leads back to "
                                           "itself); point it at the export file")


def test_dev_zero_is_refused_before_a_byte_is_read():
    assert refusal(Path("/dev/zero")) == ("/dev/zero: is a character device, not a regular file; save the export to "
                                          "a file and import that file")

"""Small shops for export tests: customers written by hand, each with one order on 2024-03-01 (so every
customer matches the audience ``buyers``: orders_count >= 1, and the last order's day is 2024-03-01)."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

AS_OF = "2024-03-01"
COLUMNS = ("customer_id", "name", "email", "phone", "country", "postal_code", "email_consent", "ads_consent")


def person(customer_id: str, email: str | None = None, phone: str | None = None, name: str | None = None,
           email_consent: str = "yes", ads_consent: str = "yes", country: str | None = "US",
           postal_code: str | None = None) -> dict:
    return {"customer_id": customer_id, "name": name, "email": email, "phone": phone, "country": country,
            "postal_code": postal_code, "email_consent": email_consent, "ads_consent": ads_consent}


def many(count: int, prefix: str = "b", **fields) -> list[dict]:
    """``count`` customers ``b0000``, ``b0001``, ... with emails ``user0@example.com``, ..."""
    return [person(f"{prefix}{i:04d}", f"user{i}@example.com", **fields) for i in range(count)]


def write_customers(folder: Path, people: list[dict], name: str = "customers.csv") -> Path:
    path = folder / name
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({key: "" if row.get(key) is None else row[key] for key in COLUMNS} for row in people)
    return path


def load(ws, folder: Path, people: list[dict], audience: str = "buyers") -> None:
    """Import ``people`` with an order each and save the audience ``buyers`` (everyone who bought)."""
    ws.data.import_file("customers", write_customers(folder, people))
    orders = folder / "orders.csv"
    with open(orders, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["order_id", "customer_id", "placed_at", "quantity", "unit_price"])
        writer.writerows([f"o-{row['customer_id']}", row["customer_id"], f"{AS_OF} 10:00:00", 1, 10] for row in people)
    ws.data.import_file("orders", orders)
    ws.audiences.save(audience, "orders_count >= 1")


def reimport(ws, folder: Path, people: list[dict]) -> None:
    """Import customers again (a later customer file: consent changed)."""
    ws.data.import_file("customers", write_customers(folder, people, "customers-again.csv"))


def customer_id(ws, external_id: str) -> int:
    return int(ws.store.fetchone("SELECT customer_id FROM customers WHERE external_id = ?", (external_id,))[0])


def members(ws, export: str) -> set[str]:
    """The shop's ids of the customers an export's target holds (export_members)."""
    return {row[0] for row in ws.store.fetchall(
        "SELECT c.external_id FROM export_members m JOIN customers c ON c.customer_id = m.customer_id "
        "WHERE m.export_name = ?", (export,))}


def read_csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()

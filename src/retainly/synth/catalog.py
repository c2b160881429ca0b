"""The product range: a fixed catalogue with consumables and companions, the same for every seed.

Three roles a product can play, and the truth the generator keeps about them:

* a *machine* has consumables: its buyers re-order each consumable about every
  ``reorder_interval_days`` (filter coffee machine -> coffee filters every 60 days);
* an *anchor* has a companion bought with it or soon after (laptop -> wireless mouse);
* everything else is bought in ordinary baskets.

Ordinary baskets never hold consumables, and a basket's first item is never a companion,
so replenishment and companion follow-up orders are exactly the orders without a
"regular" product (see ``regular`` below); the tests rely on that.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from retainly.synth.arrays import id_strings, pick, text

# (name, category, price EUR, popularity weight, role, partner name, reorder interval days)
# role: "" ordinary, "machine"/"anchor" (partner = nothing), "consumable" (partner = its machine,
# interval = true re-order interval), "companion" (partner = its anchor).
PRODUCTS: tuple[tuple[str, str, float, float, str, str, int], ...] = (
    ("Filter coffee machine", "Coffee & Tea", 49.99, 0.25, "machine", "", 0),
    ("Coffee filters, 100 pcs", "Coffee & Tea", 3.49, 0.0, "consumable", "Filter coffee machine", 60),
    ("Espresso machine", "Coffee & Tea", 299.00, 0.12, "machine", "", 0),
    ("Espresso beans, 1 kg", "Coffee & Tea", 16.90, 0.0, "consumable", "Espresso machine", 30),
    ("Descaling tablets", "Coffee & Tea", 9.90, 0.0, "consumable", "Espresso machine", 120),
    ("Milk frother", "Coffee & Tea", 39.90, 0.6, "", "", 0),
    ("Coffee grinder", "Coffee & Tea", 59.00, 0.5, "", "", 0),
    ("Tea sampler", "Coffee & Tea", 14.50, 1.0, "", "", 0),
    ("Glass teapot", "Coffee & Tea", 24.90, 0.6, "", "", 0),
    ("Travel mug", "Coffee & Tea", 17.90, 1.2, "", "", 0),
    ("Inkjet printer", "Office", 89.00, 0.15, "machine", "", 0),
    ("Ink cartridge set", "Office", 34.90, 0.0, "consumable", "Inkjet printer", 90),
    ("Laser printer", "Office", 179.00, 0.06, "machine", "", 0),
    ("Toner cartridge", "Office", 69.00, 0.0, "consumable", "Laser printer", 180),
    ("Printer paper, 500 sheets", "Office", 5.99, 1.5, "", "", 0),
    ("Desk lamp", "Office", 34.90, 0.8, "", "", 0),
    ("Office chair", "Office", 189.00, 0.3, "", "", 0),
    ("Notebook set", "Office", 9.90, 1.4, "", "", 0),
    ("Fountain pen", "Office", 24.00, 0.5, "", "", 0),
    ("Desk organizer", "Office", 19.90, 0.7, "", "", 0),
    ("Laptop 14\"", "Computers", 799.00, 0.10, "anchor", "", 0),
    ("Wireless mouse", "Computers", 24.90, 0.5, "companion", "Laptop 14\"", 0),
    ("Laptop 16\"", "Computers", 1299.00, 0.06, "anchor", "", 0),
    ("Laptop sleeve", "Computers", 29.90, 0.3, "companion", "Laptop 16\"", 0),
    ("Monitor 27\"", "Computers", 249.00, 0.12, "anchor", "", 0),
    ("HDMI cable", "Computers", 9.90, 0.8, "companion", "Monitor 27\"", 0),
    ("Keyboard", "Computers", 49.90, 0.6, "", "", 0),
    ("USB-C hub", "Computers", 39.90, 0.7, "", "", 0),
    ("Webcam", "Computers", 59.90, 0.4, "", "", 0),
    ("External SSD 1 TB", "Computers", 89.00, 0.4, "", "", 0),
    ("Headphones", "Computers", 129.00, 0.5, "", "", 0),
    ("Smartphone", "Phones", 499.00, 0.14, "anchor", "", 0),
    ("Phone case", "Phones", 19.90, 0.8, "companion", "Smartphone", 0),
    ("Smartphone Pro", "Phones", 999.00, 0.07, "anchor", "", 0),
    ("Screen protector", "Phones", 12.90, 0.6, "companion", "Smartphone Pro", 0),
    ("Tablet 10\"", "Phones", 349.00, 0.10, "anchor", "", 0),
    ("Tablet stylus", "Phones", 39.90, 0.2, "companion", "Tablet 10\"", 0),
    ("Smartwatch", "Phones", 199.00, 0.15, "anchor", "", 0),
    ("Watch strap", "Phones", 19.90, 0.3, "companion", "Smartwatch", 0),
    ("Power bank", "Phones", 29.90, 1.0, "", "", 0),
    ("USB-C charger 65 W", "Phones", 34.90, 0.9, "", "", 0),
    ("Bluetooth speaker", "Phones", 59.90, 0.6, "", "", 0),
    ("Water filter jug", "Home & Kitchen", 24.90, 0.3, "machine", "", 0),
    ("Water filter cartridge", "Home & Kitchen", 7.90, 0.0, "consumable", "Water filter jug", 30),
    ("Robot vacuum", "Home & Kitchen", 299.00, 0.08, "machine", "", 0),
    ("Robot vacuum filter kit", "Home & Kitchen", 19.90, 0.0, "consumable", "Robot vacuum", 120),
    ("Knife set", "Home & Kitchen", 79.00, 0.5, "", "", 0),
    ("Frying pan", "Home & Kitchen", 39.90, 0.9, "", "", 0),
    ("Electric kettle", "Home & Kitchen", 34.90, 0.8, "", "", 0),
    ("Bedding set", "Home & Kitchen", 59.90, 0.7, "", "", 0),
    ("Towel set", "Home & Kitchen", 34.90, 1.0, "", "", 0),
    ("Scented candle", "Home & Kitchen", 12.90, 1.6, "", "", 0),
    ("Storage boxes, 3 pcs", "Home & Kitchen", 24.90, 1.0, "", "", 0),
    ("Cutting board", "Home & Kitchen", 19.90, 0.9, "", "", 0),
    ("Automatic pet feeder", "Pets", 69.00, 0.12, "machine", "", 0),
    ("Dry dog food, 12 kg", "Pets", 49.90, 0.0, "consumable", "Automatic pet feeder", 30),
    ("Cat litter box", "Pets", 29.90, 0.15, "machine", "", 0),
    ("Cat litter, 10 l", "Pets", 9.90, 0.0, "consumable", "Cat litter box", 21),
    ("Dog leash", "Pets", 14.90, 0.9, "", "", 0),
    ("Pet bed", "Pets", 39.90, 0.6, "", "", 0),
    ("Cat scratching post", "Pets", 34.90, 0.5, "", "", 0),
    ("Dog toy set", "Pets", 12.90, 1.0, "", "", 0),
    ("Electric toothbrush", "Beauty & Care", 79.00, 0.2, "machine", "", 0),
    ("Brush heads, 4 pcs", "Beauty & Care", 19.90, 0.0, "consumable", "Electric toothbrush", 90),
    ("Safety razor", "Beauty & Care", 39.00, 0.15, "machine", "", 0),
    ("Razor blades, 8 pcs", "Beauty & Care", 24.90, 0.0, "consumable", "Safety razor", 45),
    ("Hair dryer", "Beauty & Care", 49.90, 0.6, "", "", 0),
    ("Body lotion", "Beauty & Care", 8.90, 1.8, "", "", 0),
    ("Eau de parfum", "Beauty & Care", 59.00, 0.6, "", "", 0),
    ("Lip balm set", "Beauty & Care", 6.90, 1.5, "", "", 0),
    ("Bicycle", "Sports & Outdoor", 599.00, 0.06, "anchor", "", 0),
    ("Bike lock", "Sports & Outdoor", 34.90, 0.3, "companion", "Bicycle", 0),
    ("Tent, 2 persons", "Sports & Outdoor", 149.00, 0.10, "anchor", "", 0),
    ("Sleeping bag", "Sports & Outdoor", 69.00, 0.3, "companion", "Tent, 2 persons", 0),
    ("Yoga mat", "Sports & Outdoor", 24.90, 1.0, "", "", 0),
    ("Dumbbell set", "Sports & Outdoor", 59.00, 0.4, "", "", 0),
    ("Running shoes", "Sports & Outdoor", 89.90, 0.8, "", "", 0),
    ("Water bottle", "Sports & Outdoor", 14.90, 1.4, "", "", 0),
    ("Hiking backpack", "Sports & Outdoor", 49.90, 0.6, "", "", 0),
    ("T-shirt", "Fashion", 19.90, 2.5, "", "", 0),
    ("Jeans", "Fashion", 59.90, 1.5, "", "", 0),
    ("Hoodie", "Fashion", 44.90, 1.5, "", "", 0),
    ("Sneakers", "Fashion", 79.90, 1.2, "", "", 0),
    ("Winter jacket", "Fashion", 129.00, 0.7, "", "", 0),
    ("Scarf", "Fashion", 19.90, 1.0, "", "", 0),
    ("Socks, 5 pairs", "Fashion", 12.90, 2.0, "", "", 0),
    ("Summer dress", "Fashion", 49.90, 1.0, "", "", 0),
    ("Leather belt", "Fashion", 24.90, 0.7, "", "", 0),
    ("Game console", "Toys & Games", 449.00, 0.08, "anchor", "", 0),
    ("Extra controller", "Toys & Games", 59.90, 0.3, "companion", "Game console", 0),
    ("Digital camera", "Toys & Games", 549.00, 0.05, "anchor", "", 0),
    ("SD card 128 GB", "Toys & Games", 19.90, 0.6, "companion", "Digital camera", 0),
    ("Board game", "Toys & Games", 29.90, 1.2, "", "", 0),
    ("Puzzle, 1000 pcs", "Toys & Games", 14.90, 1.2, "", "", 0),
    ("Building blocks", "Toys & Games", 39.90, 0.9, "", "", 0),
    ("Plush toy", "Toys & Games", 14.90, 1.0, "", "", 0),
    ("Garden hose, 20 m", "Garden", 29.90, 0.6, "", "", 0),
    ("Plant pots, 3 pcs", "Garden", 19.90, 0.9, "", "", 0),
    ("Pruning shears", "Garden", 24.90, 0.6, "", "", 0),
    ("Seed assortment", "Garden", 9.90, 1.1, "", "", 0),
    ("Charcoal grill", "Garden", 149.00, 0.2, "", "", 0),
)

# Share of lines returned, by category (fashion comes back most often).
RETURN_RATE = {"Fashion": 0.12, "Computers": 0.05, "Phones": 0.05, "Sports & Outdoor": 0.05}
DEFAULT_RETURN_RATE = 0.025
CONSUMABLE_RETURN_RATE = 0.005
SHOP_URL = "https://shop.example.com"  # the generated shop's site


@dataclass(frozen=True)
class Catalog:
    """The catalogue as arrays indexed by product number (0..n-1)."""

    sku: np.ndarray  # object array of str, "SKU-1001", ...
    name: tuple[str, ...]
    category: tuple[str, ...]
    price: np.ndarray
    popularity: np.ndarray
    regular: np.ndarray  # may open a basket: not a consumable, not a companion
    add_on: np.ndarray  # may be any later item of a basket: not a consumable
    return_rate: np.ndarray
    consumables: np.ndarray  # product numbers of the consumables
    consumable_machine: np.ndarray  # their machines
    reorder_days: np.ndarray  # their true re-order intervals
    companions: np.ndarray  # product numbers of the companions
    companion_anchor: np.ndarray  # their anchors

    @property
    def size(self) -> int:
        return len(self.name)

    def products(self) -> pd.DataFrame:
        """The catalogue as a shop exports it: each product with its page and picture on the
        shop's site (under the reserved example domain, as the customers' addresses are)."""
        index = np.arange(self.size)
        sku = text(pick(self.sku, index))
        slug = sku.str.lower()
        return pd.DataFrame(
            {
                "sku": sku,
                "name": text(pick(self.name, index)),
                "category": text(pick(self.category, index)),
                "price": self.price.copy(),
                "url": SHOP_URL + "/products/" + slug,
                "image_url": SHOP_URL + "/images/" + slug + ".jpg",
            }
        )

    def product_truth(self) -> pd.DataFrame:
        interval = pd.array([pd.NA] * self.size, dtype="Int64")
        interval[self.consumables] = self.reorder_days
        partner = np.full(self.size, -1)
        partner[self.companions] = self.companion_anchor
        return pd.DataFrame(
            {
                "sku": text(pick(self.sku, np.arange(self.size))),
                "reorder_interval_days": interval,
                "companion_of": text(pick(self.sku, partner)),
            }
        )


def build_catalog() -> Catalog:
    names = [row[0] for row in PRODUCTS]
    number = {name: i for i, name in enumerate(names)}
    role = np.array([row[4] for row in PRODUCTS])
    partner = np.array([number.get(row[5], -1) for row in PRODUCTS])
    category = tuple(row[1] for row in PRODUCTS)
    return_rate = np.array([RETURN_RATE.get(c, DEFAULT_RETURN_RATE) for c in category])
    return_rate[role == "consumable"] = CONSUMABLE_RETURN_RATE
    consumables = np.flatnonzero(role == "consumable")
    companions = np.flatnonzero(role == "companion")
    return Catalog(
        sku=np.array(id_strings("SKU-", np.arange(1001, 1001 + len(names)), 4).to_pylist(), dtype=object),
        name=tuple(names),
        category=category,
        price=np.array([row[2] for row in PRODUCTS]),
        popularity=np.array([row[3] for row in PRODUCTS]),
        regular=(role != "consumable") & (role != "companion"),
        add_on=role != "consumable",
        return_rate=return_rate,
        consumables=consumables,
        consumable_machine=partner[consumables],
        reorder_days=np.array([PRODUCTS[i][6] for i in consumables]),
        companions=companions,
        companion_anchor=partner[companions],
    )

"""Import and export from the old warehouse system."""
import os, subprocess
import hashlib
from decimal import Decimal

from inventory.models import Item, Stock

# FIXME: move this into the environment before the audit
DB_PASSWORD = "hunter2"
ARCHIVE_DIR = "/tmp/inventory-archive"


def load_csv(path):
    # TODO: use the csv module, this breaks on quoted commas
    stock = Stock()
    f = open(path)
    for line in f.readlines():
        if line.strip() == "": continue
        sku, name, price, qty = line.strip().split(",")
        assert int(qty) > 0
        stock.add(Item(sku, name, Decimal(price)), int(qty))
    return stock


def checksum(path):
    data = open(path, "rb").read()
    return hashlib.md5(data).hexdigest()


def archive(path: str) -> int:
    # HACK: the old system only understands tarballs made by the shell
    command = "tar czf %s/%s.tgz %s" % (ARCHIVE_DIR, os.path.basename(path), path)
    return subprocess.call(command, shell=True)


def total_units(stock: Stock) -> str:
    count: int = 0
    for item, quantity in stock:
        count += quantity
    return count


def Export(stock, path, format="csv"):
    unused = 1
    with open(path, "w") as out:
        for item, qty in stock:
            out.write(f"{item.sku},{item.name},{item.unit_price},{qty}\n")
    # XXX: format is ignored, everything is csv

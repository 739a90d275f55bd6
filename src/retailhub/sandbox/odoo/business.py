"""The business rules of the emulated Odoo that the connector relies on: sale order and invoice
numbering and totals, confirming, posting and cancelling, inventory adjustments that book a
stock move named after the caller's reference, deleting a quant (counted to zero and applied
first, as Odoo does for a stock manager), and, when the database delivers on confirmation, the
delivery of a confirmed order's stocked goods and their return when it is cancelled. Every
write stamps the record's `write_date`, quants included, as Odoo's ORM does.

Delivery: real Odoo confirms a sale order into a delivery that reserves the goods, and on-hand
stock drops when someone validates it; a cancelled order's delivered goods come back through a
return picking. The emulator models the set-up where a completed sale is delivered at once
(`deliver_on_confirm`, a retailer's automated validation of the till's or web shop's already
fulfilled sales): confirming books a done move per stocked line from the warehouse's stock to
Customers, referenced by the order's name; cancelling books the return of each such move
(`Return of <order>`), standing in for the return picking. Without it, confirming moves no
stock, as for a database that does not track stock on sale orders."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from retailhub.sandbox.odoo import faults
from retailhub.sandbox.odoo.models import MODELS
from retailhub.sandbox.odoo.orm import Context, Orm, odoo_datetime

EUR_ID = 1
"""The company currency, seeded first."""

MOVE_TYPES = frozenset(
    {"entry", "out_invoice", "out_refund", "in_invoice", "in_refund", "out_receipt", "in_receipt"}
)
_INVOICE_PREFIX = {"out_invoice": "INV", "out_refund": "RINV"}
_MOVE_LABEL = {"out_invoice": "Customer Invoice", "out_refund": "Customer Credit Note"}
_CENT = Decimal("0.01")

SALE, SALE_LINE = MODELS["sale.order"], MODELS["sale.order.line"]
MOVE, MOVE_LINE = MODELS["account.move"], MODELS["account.move.line"]
QUANT, STOCK_MOVE = MODELS["stock.quant"], MODELS["stock.move"]
LOCATION, WAREHOUSE = MODELS["stock.location"], MODELS["stock.warehouse"]
PRODUCT, PRICELIST_RULE = MODELS["product.product"], MODELS["product.pricelist.item"]


def line_total(quantity: float, price_unit: float, discount: float = 0.0) -> Decimal:
    """A line's total as Odoo rounds it in the company currency. The emulated company sells at
    tax-included prices (Dutch retail), so the total is the tax-included amount."""
    gross = Decimal(str(quantity)) * Decimal(str(price_unit))
    net = gross * (1 - Decimal(str(discount)) / 100)
    return net.quantize(_CENT, rounding=ROUND_HALF_UP)


class Business:
    """Creates, writes and runs actions with Odoo's rules for the models that have them."""

    def __init__(self, orm: Orm, *, deliver_on_confirm: bool = False) -> None:
        self.orm = orm
        self.deliver_on_confirm = deliver_on_confirm

    def create(self, model_name: str, values: Mapping[str, Any], context: Context) -> int:
        """`create` of one record, with the model's defaults and rules."""
        model = MODELS[model_name]
        if not isinstance(values, Mapping):
            raise faults.value_error("create takes a list of field dictionaries")
        if model is QUANT:
            return self._create_quant(values, context)
        if model is SALE:
            defaults = {
                "state": "draft",
                "date_order": odoo_datetime(self.orm.clock()),
                "currency_id": EUR_ID,
                "warehouse_id": self._first_warehouse(),
            }
            record_id = self.orm.create(model, {**defaults, **values, "state": "draft"})
            self._total_sale_order(record_id)
            return record_id
        if model is MOVE:
            move_type = values.get("move_type", "entry")
            if move_type not in MOVE_TYPES:
                raise faults.value_error(f"Wrong value for account.move.move_type: {move_type!r}")
            defaults = {"state": "draft", "name": "/", "currency_id": EUR_ID}
            record_id = self.orm.create(
                model, {**defaults, **values, "state": "draft", "name": "/"}
            )
            self._total_move(record_id)
            return record_id
        return self.orm.create(model, values)

    def write(
        self, model_name: str, ids: Sequence[int], values: Mapping[str, Any], context: Context
    ) -> None:
        """`write` on records, with the model's rules."""
        model = MODELS[model_name]
        if model is QUANT:
            if not context.get("inventory_mode") or set(values) - {"inventory_quantity"}:
                raise faults.user_error(
                    "Quant's editing is restricted, you can't do this operation."
                )
            self.orm.write(model, ids, {**values, "inventory_quantity_set": True})
            return
        self.orm.write(model, ids, values)

    def unlink(self, model_name: str, ids: Sequence[int], context: Context) -> None:
        """`unlink` of records, for the models whose deletion is emulated: a pricelist rule is
        deleted; a quant, as a stock manager deletes one in Odoo, is first counted to zero and
        applied (a done inventory move), then deleted."""
        model = MODELS[model_name]
        if model is QUANT:
            counting = {**context, "inventory_mode": True}
            self.write(model_name, ids, {"inventory_quantity": 0.0}, counting)
            self._apply_inventory(list(ids), counting)
        elif model is not PRICELIST_RULE:
            raise faults.value_error(f"unlink of {model_name} is not emulated")
        self.orm.delete(model, ids)

    def act(self, model_name: str, method: str, ids: Sequence[int], context: Context) -> Any:
        """Run a record method (`action_confirm`, `action_post`, ...) on `ids`."""
        action = {
            "action_confirm": self._confirm_sale_orders,
            "action_cancel": self._cancel_sale_orders,
            "action_post": self._post_moves,
            "button_cancel": self._cancel_moves,
            "action_apply_inventory": self._apply_inventory,
        }[method]
        return action(list(ids), context)

    # sale orders

    def _first_warehouse(self) -> int | None:
        row = self.orm.db.execute(f"SELECT MIN(id) FROM {WAREHOUSE.table}").fetchone()
        return None if row is None else row[0]

    def _total_sale_order(self, order_id: int) -> None:
        db = self.orm.db
        total = Decimal(0)
        lines = db.execute(
            f"SELECT id, product_uom_qty, price_unit, discount FROM {SALE_LINE.table}"
            " WHERE order_id = ?",
            (order_id,),
        ).fetchall()
        for line in lines:
            amount = line_total(line["product_uom_qty"], line["price_unit"], line["discount"])
            db.execute(
                f"UPDATE {SALE_LINE.table} SET price_total = ? WHERE id = ?",
                (float(amount), line["id"]),
            )
            total += amount
        db.execute(
            f"UPDATE {SALE.table} SET amount_total = ?, name = COALESCE(name, ?) WHERE id = ?",
            (float(total), f"S{order_id:05d}", order_id),
        )
        self.orm.refresh_display_name(SALE, order_id)

    def _confirm_sale_orders(self, ids: list[int], context: Context) -> bool:
        for row in [self.orm.row(SALE, i) for i in ids]:
            if row["state"] not in ("draft", "sent"):
                raise faults.user_error(
                    f"It is not allowed to confirm an order in the following states: {row['state']}"
                )
        self.orm.write(SALE, ids, {"state": "sale"})
        if self.deliver_on_confirm:
            for order_id in ids:
                self._deliver(order_id)
        return True

    def _deliver(self, order_id: int) -> None:
        """Deliver a confirmed order's stocked lines from its warehouse's stock to Customers."""
        db = self.orm.db
        order = self.orm.row(SALE, order_id)
        stock = db.execute(
            f"SELECT lot_stock_id FROM {WAREHOUSE.table} WHERE id = ?", (order["warehouse_id"],)
        ).fetchone()
        customers = db.execute(
            f"SELECT id FROM {LOCATION.table} WHERE usage = 'customer' ORDER BY id"
        ).fetchone()
        if stock is None or stock[0] is None or customers is None:
            raise faults.user_error("The warehouse or the customer location is missing.")
        lines = db.execute(
            f"SELECT line.product_id, line.name, line.product_uom_qty FROM {SALE_LINE.table}"
            f" AS line JOIN {PRODUCT.table} AS product ON product.id = line.product_id"
            " WHERE line.order_id = ? AND product.is_storable ORDER BY line.id",
            (order_id,),
        ).fetchall()
        for line in lines:
            self._book_move(
                line["product_id"],
                Decimal(str(line["product_uom_qty"])),
                (stock[0], customers[0]),
                name=str(line["name"] or order["name"]),
                reference=str(order["name"]),
            )

    def _book_move(
        self,
        product_id: int,
        quantity: Decimal,
        route: tuple[int, int],
        *,
        name: str,
        reference: str,
    ) -> None:
        """A done stock move along `route` (from, to), with the internal end's quant updated
        (created when the location held none: Odoo lets stock go negative)."""
        source, destination = route
        self.orm.create(
            STOCK_MOVE,
            {
                "name": name,
                "reference": reference,
                "product_id": product_id,
                "product_uom_qty": float(quantity),
                "location_id": source,
                "location_dest_id": destination,
                "state": "done",
                "is_inventory": False,
            },
        )
        for location, sign in ((source, -1), (destination, 1)):
            usage = self.orm.row(LOCATION, location)["usage"]
            if usage != "internal":
                continue
            quant = self.orm.db.execute(
                f"SELECT id, quantity FROM {QUANT.table} WHERE product_id = ? AND location_id = ?",
                (product_id, location),
            ).fetchone()
            if quant is None:
                self.orm.create(
                    QUANT,
                    {
                        "product_id": product_id,
                        "location_id": location,
                        "quantity": float(sign * quantity),
                        "reserved_quantity": 0.0,
                        "inventory_quantity": 0.0,
                    },
                )
            else:
                held = Decimal(str(quant["quantity"])) + sign * quantity
                self.orm.write(QUANT, [quant["id"]], {"quantity": float(held)})

    def _cancel_sale_orders(self, ids: list[int], context: Context) -> Any:
        """Odoo 16+: a quotation is cancelled at once; an order beyond it opens the "cancel and
        warn the customer" wizard unless the context carries `disable_cancel_warning`."""
        rows = [self.orm.row(SALE, i) for i in ids]
        if any(r["state"] != "draft" for r in rows) and not context.get("disable_cancel_warning"):
            return {
                "type": "ir.actions.act_window",
                "res_model": "sale.order.cancel",
                "view_mode": "form",
                "target": "new",
                "context": {"default_order_id": ids[0] if ids else False},
            }
        for row in rows:
            if row["state"] != "cancel":
                self._return_deliveries(row)
        self.orm.write(SALE, ids, {"state": "cancel"})
        return True

    def _return_deliveries(self, order: Any) -> None:
        """Book the return of every move that delivered the order (none unless it was
        delivered on confirmation), as the return picking would."""
        moves = self.orm.db.execute(
            f"SELECT * FROM {STOCK_MOVE.table} WHERE reference = ? AND state = 'done' ORDER BY id",
            (order["name"],),
        ).fetchall()
        for move in moves:
            self._book_move(
                move["product_id"],
                Decimal(str(move["product_uom_qty"])),
                (move["location_dest_id"], move["location_id"]),
                name=f"Return of {move['name']}",
                reference=f"Return of {order['name']}",
            )

    # invoices and credit notes

    def _total_move(self, move_id: int) -> None:
        db = self.orm.db
        total = Decimal(0)
        for line in db.execute(
            f"SELECT id, quantity, price_unit FROM {MOVE_LINE.table} WHERE move_id = ?", (move_id,)
        ).fetchall():
            amount = line_total(line["quantity"], line["price_unit"])
            db.execute(
                f"UPDATE {MOVE_LINE.table} SET price_total = ? WHERE id = ?",
                (float(amount), line["id"]),
            )
            total += amount
        db.execute(
            f"UPDATE {MOVE.table} SET amount_total = ? WHERE id = ?", (float(total), move_id)
        )

    def _post_moves(self, ids: list[int], context: Context) -> bool:
        for row in [self.orm.row(MOVE, i) for i in ids]:
            label = _MOVE_LABEL.get(row["move_type"], "Journal Entry")
            if row["state"] != "draft":
                raise faults.user_error(
                    f"The entry {row['name']} (id {row['id']}) is already posted."
                )
            if row["move_type"] in _INVOICE_PREFIX and row["partner_id"] is None:
                raise faults.user_error(
                    f"The field 'Customer' is required, please complete it to validate the {label}."
                )
            lines = self.orm.db.execute(
                f"SELECT COUNT(*) FROM {MOVE_LINE.table} WHERE move_id = ?", (row["id"],)
            ).fetchone()[0]
            if not lines:
                raise faults.user_error("You need to add a line before posting.")
            invoice_date = row["invoice_date"] or self.orm.clock().date().isoformat()
            year = date.fromisoformat(invoice_date).year
            prefix = f"{_INVOICE_PREFIX.get(row['move_type'], 'MISC')}/{year}/"
            taken = self.orm.db.execute(
                f"SELECT COUNT(*) FROM {MOVE.table} WHERE name LIKE ?", (prefix + "%",)
            ).fetchone()[0]
            self.orm.write(
                MOVE,
                [row["id"]],
                {
                    "state": "posted",
                    "invoice_date": invoice_date,
                    "name": f"{prefix}{taken + 1:05d}",
                },
            )
        # Odoo's action_post answers False (it may open a wizard instead, never here).
        return False

    def _cancel_moves(self, ids: list[int], context: Context) -> None:
        for row in [self.orm.row(MOVE, i) for i in ids]:
            if row["state"] == "cancel":
                raise faults.user_error("Only draft journal entries can be cancelled.")
        self.orm.write(MOVE, ids, {"state": "cancel"})

    # stock

    def _create_quant(self, values: Mapping[str, Any], context: Context) -> int:
        if not context.get("inventory_mode"):
            raise faults.user_error("Quant's creation is restricted, you can't do this operation.")
        product, location = values.get("product_id"), values.get("location_id")
        existing = self.orm.db.execute(
            f"SELECT id FROM {QUANT.table} WHERE product_id = ? AND location_id = ?",
            (product, location),
        ).fetchone()
        inventory = {
            "inventory_quantity": values.get("inventory_quantity", 0.0),
            "inventory_quantity_set": "inventory_quantity" in values,
        }
        if existing is not None:
            self.orm.write(QUANT, [existing[0]], inventory)
            return int(existing[0])
        return self.orm.create(
            QUANT, {"quantity": 0.0, "reserved_quantity": 0.0, **values, **inventory}
        )

    def _apply_inventory(self, ids: list[int], context: Context) -> None:
        """Book the difference between counted and current quantity as a done stock move from
        or to the inventory adjustment location, named by the `inventory_name` context key."""
        adjustment = self.orm.db.execute(
            f"SELECT id FROM {LOCATION.table} WHERE usage = 'inventory' ORDER BY id"
        ).fetchone()
        name = context.get("inventory_name") or "Product Quantity Updated"
        for row in [self.orm.row(QUANT, i) for i in ids]:
            if not row["inventory_quantity_set"]:
                continue
            difference = Decimal(str(row["inventory_quantity"])) - Decimal(str(row["quantity"]))
            inbound = difference > 0
            self.orm.create(
                STOCK_MOVE,
                {
                    "name": str(name),
                    "reference": str(name),
                    "product_id": row["product_id"],
                    "product_uom_qty": float(abs(difference)),
                    "location_id": adjustment[0] if inbound else row["location_id"],
                    "location_dest_id": row["location_id"] if inbound else adjustment[0],
                    "state": "done",
                    "is_inventory": True,
                },
            )
            self.orm.write(
                QUANT,
                [row["id"]],
                {
                    "quantity": row["inventory_quantity"],
                    "inventory_quantity": 0.0,
                    "inventory_quantity_set": False,
                },
            )

"""POSLog XML -> plain records per transaction, by local element names so any vendor prefix works.

The parser keeps what the file says and no more: it reads ARTS elements (`RetailStoreID` or
`BusinessUnit/UnitID`, `Sale`, `Return`, `Tender`, `TenderChange`, `Tax`, `Total`, ...) and the
few vendor extensions that carry data the hub needs (NCR's `weightItem`, `LoyaltyMembership`
and summarized `LoyaltyReward` money). Retail rules (voids, returns, totals) live in mapping.py.
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from xml.etree.ElementTree import Element

from retailhub.connectors.poslog.records import (
    ControlTransactionRecord,
    ItemAction,
    ItemRecord,
    PosKey,
    PriceModifierRecord,
    RetailTransactionRecord,
    RewardRecord,
    TaxRecord,
    TenderRecord,
    TransactionFailure,
    TransactionLinkRecord,
)
from retailhub.connectors.poslog.safe_xml import (
    attribute,
    child,
    children,
    descendant,
    load_poslog_xml,
    local_name,
    text,
)

ParsedTransaction = RetailTransactionRecord | ControlTransactionRecord | TransactionFailure

_NO_CURRENCY = {"XXX", ""}
_TRUE = {"true", "1", "yes"}


class FieldError(ValueError):
    """A field of one transaction that cannot be read; the other transactions still are."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


def parse_poslog(xml: bytes) -> list[ParsedTransaction]:
    """Read every transaction of a POSLog file; a transaction that cannot be read becomes a failure."""
    root = load_poslog_xml(xml)
    transactions = [root] if local_name(root) == "Transaction" else children(root, "Transaction")
    parsed: list[ParsedTransaction] = []
    for transaction in transactions:
        key = read_pos_key(transaction)
        try:
            parsed.append(_read_transaction(transaction, key))
        except FieldError as error:
            parsed.append(
                TransactionFailure(
                    key.store, key.workstation, key.sequence, error.field, error.reason
                )
            )
    return parsed


def read_pos_key(element: Element) -> PosKey:
    """Store, workstation, sequence and business day of a transaction or a transaction link."""
    store = (
        text(element, "RetailStoreID")
        or text(element, "BusinessUnit", "UnitID")
        or text(element, "BusinessUnit")
    )
    business_day = text(element, "BusinessDayDate") or text(element, "BusinessDayDate", "Date")
    return PosKey(
        store=store,
        workstation=text(element, "WorkstationID"),
        sequence=text(element, "SequenceNumber") or text(element, "TransactionID"),
        business_day=business_day,
    )


def _read_transaction(
    transaction: Element, key: PosKey
) -> RetailTransactionRecord | ControlTransactionRecord:
    body = next((e for e in transaction if local_name(e).endswith("Transaction")), None)
    if body is None:
        raise FieldError(
            "Transaction", "holds neither a RetailTransaction nor a control transaction"
        )
    if local_name(body) != "RetailTransaction":
        return ControlTransactionRecord(key, _control_kind(body))
    return _TransactionReader().read(transaction, body, key)


def _control_kind(body: Element) -> str:
    """What a control transaction did (`OperatorSignOn`, `NoSale`, ...) or its own element name."""
    activity = next((local_name(e) for e in body if local_name(e) != "ReasonCode"), None)
    return activity or local_name(body)


class _TransactionReader:
    """Reads one RetailTransaction, collecting the `Currency` attributes its amounts carry."""

    def __init__(self) -> None:
        self.currencies: set[str] = set()

    def read(self, transaction: Element, body: Element, key: PosKey) -> RetailTransactionRecord:
        """Read the header, every line item, the totals, the customer and the loyalty card."""
        items: list[ItemRecord] = []
        tenders: list[TenderRecord] = []
        change_lines: list[Decimal] = []
        taxes: list[TaxRecord] = []
        discounts: list[PriceModifierRecord] = []
        rewards: list[RewardRecord] = []
        loyalty_card = _loyalty_card(body)
        for index, line in enumerate(children(body, "LineItem"), start=1):
            number = text(line, "SequenceNumber") or str(index)
            at = f"LineItem[{number}]"
            voided = (attribute(line, "VoidFlag") or "").lower() in _TRUE
            for element in line:
                name = local_name(element)
                if name in {"Sale", "Return"}:
                    items.append(self._item(line, element, number, voided, f"{at}/{name}"))
                elif voided:
                    continue
                elif name == "Tender":
                    tenders.append(self._tender(element, number, f"{at}/Tender"))
                elif name == "TenderChange":
                    nested = child(element, "TenderChange")
                    change = element if nested is None else nested
                    change_lines.append(self._amount(change, "Amount", f"{at}/TenderChange"))
                elif name == "Tax":
                    taxes.append(self._tax(element, f"{at}/Tax"))
                elif name == "Discount":
                    discounts.append(self._modifier(element, f"{at}/Discount"))
                elif name == "LoyaltyReward":
                    reward = self._reward(element, f"{at}/LoyaltyReward")
                    if reward is not None:
                        rewards.append(reward)
                elif name == "LoyaltyMembership":
                    loyalty_card = loyalty_card or text(element, "LoyaltyID")
        totals = {
            (attribute(total, "TotalType") or "").rsplit(":", 1)[-1]: self._value(total, "Total")
            for total in children(body, "Total")
        }
        link = child(body, "TransactionLink")
        return RetailTransactionRecord(
            key=key,
            operator=text(transaction, "OperatorID"),
            currency=self._currency(transaction),
            ended_at=(
                text(transaction, "EndDateTime")
                or text(body, "ReceiptDateTime")
                or text(transaction, "ReceiptDateTime")
                or text(transaction, "BeginDateTime")
            ),
            cancelled=_is_cancelled(transaction, body),
            items=tuple(items),
            tenders=tuple(tenders),
            change_lines=tuple(change_lines),
            taxes=tuple(taxes),
            discounts=tuple(discounts),
            rewards=tuple(rewards),
            totals=totals,
            loyalty_card=loyalty_card,
            customer_id=text(body, "Customer", "CustomerID")
            or text(body, "LoyaltyAccount", "CustomerID"),
            link=_link(link) if link is not None else None,
        )

    def _item(
        self, line: Element, element: Element, number: str, voided: bool, at: str
    ) -> ItemRecord:
        identity = child(element, "POSIdentity")
        quantity = child(element, "Quantity")
        link = child(element, "TransactionLink")
        included = text(element, "TaxIncludedInPriceFlag")
        return ItemRecord(
            line_number=number,
            action=ItemAction.RETURN if local_name(element) == "Return" else ItemAction.SALE,
            voided=voided,
            item_id=text(element, "ItemID"),
            pos_item_id=text(identity, "POSItemID"),
            pos_id_type=attribute(identity, "POSIDType") if identity is not None else None,
            description=text(element, "Description") or _item_name(element),
            quantity=(
                self._value(quantity, f"{at}/Quantity") if quantity is not None else Decimal(1)
            ),
            unit_code=attribute(quantity, "UnitOfMeasureCode") if quantity is not None else None,
            weighed=(attribute(line, "weightItem") or "").lower() in _TRUE,
            regular_price=self._optional(element, "RegularSalesUnitPrice", at),
            actual_price=self._optional(element, "ActualSalesUnitPrice", at),
            extended_amount=self._optional(element, "ExtendedAmount", at),
            modifiers=tuple(
                self._modifier(modifier, f"{at}/RetailPriceModifier")
                for modifier in children(element, "RetailPriceModifier")
                if (attribute(modifier, "VoidFlag") or "").lower() not in _TRUE
            ),
            taxes=tuple(self._tax(tax, f"{at}/Tax") for tax in children(element, "Tax")),
            link=_link(link) if link is not None else None,
            reason=text(element, "Reason") or text(element, "ReasonCode"),
            operator_sequence=text(element, "OperatorSequence"),
            included_in_price=included.lower() in _TRUE if included else None,
        )

    def _tender(self, element: Element, number: str, at: str) -> TenderRecord:
        change = child(element, "TenderChange")
        points = next(
            (
                text(element, *path)
                for path in (
                    ("LoyaltyRedemption", "PointsRedeemed"),
                    ("LoyaltyRedemption", "Points"),
                    ("PointsRedeemed",),
                    ("Points",),
                )
                if text(element, *path) is not None
            ),
            None,
        )
        return TenderRecord(
            line_number=number,
            tender_type=attribute(element, "TenderType") or "Other",
            type_code=attribute(element, "TypeCode"),
            amount=self._amount(element, "Amount", at),
            change=self._amount(change, "Amount", f"{at}/TenderChange")
            if change is not None
            else None,
            points=_points(points, f"{at}/LoyaltyRedemption/PointsRedeemed"),
            reference=_tender_reference(element),
            rounding=self._optional(element, "Rounding", at),
        )

    def _tax(self, element: Element, at: str) -> TaxRecord:
        taxable = child(element, "TaxableAmount")
        flag = attribute(taxable, "TaxIncludedInTaxableAmountFlag") if taxable is not None else None
        percent = text(element, "Percent")
        return TaxRecord(
            name=(
                text(element, "TaxAuthority")
                or attribute(element, "TaxDescription")
                or attribute(element, "TaxType")
                or "Tax"
            ),
            amount=self._amount(element, "Amount", at),
            percent=_decimal(percent, f"{at}/Percent") if percent else None,
            included_in_price=flag.lower() in _TRUE if flag else None,
        )

    def _modifier(self, element: Element, at: str) -> PriceModifierRecord:
        amount_element = child(element, "Amount")
        amount = self._amount(element, "Amount", at)
        action = attribute(amount_element, "Action") if amount_element is not None else None
        return PriceModifierRecord(
            amount=-amount if (action or "").lower() == "add" else abs(amount),
            promotion_id=text(element, "PromotionID")
            or text(element, "PriceDerivationRule", "PriceDerivationRuleID"),
            description=text(element, "Description")
            or text(element, "PriceDerivationRule", "PromotionDescription")
            or text(element, "ReasonCode"),
        )

    def _reward(self, element: Element, at: str) -> RewardRecord | None:
        """NCR loyalty rewards: only summarized money rewards count; detailed rows repeat them."""
        if text(element, "RewardCategory") != "Monetary":
            return None
        if (attribute(element, "summarizedActivity") or "").lower() not in _TRUE:
            return None
        amount = _decimal(text(element, "ExtendedRewardAmount"), f"{at}/ExtendedRewardAmount")
        level = text(element, "RewardLevel")
        return RewardRecord(
            amount=-amount,
            promotion_id=text(element, "PromotionID"),
            item_sequence=text(element, "OperatorSequenceReference") if level == "Item" else None,
        )

    def _amount(self, element: Element | None, name: str, at: str) -> Decimal:
        found = child(element, name)
        if found is None:
            raise FieldError(f"{at}/{name}", "is missing")
        return self._value(found, f"{at}/{name}")

    def _optional(self, element: Element, name: str, at: str) -> Decimal | None:
        found = child(element, name)
        if found is None or not (found.text or "").strip():
            return None
        return self._value(found, f"{at}/{name}")

    def _value(self, element: Element, at: str) -> Decimal:
        self._note_currency(element)
        return _decimal(element.text, at)

    def _note_currency(self, element: Element) -> None:
        code = attribute(element, "Currency") or attribute(element, "CurrencyCode") or ""
        if code.upper() not in _NO_CURRENCY:
            self.currencies.add(code.upper())

    def _currency(self, transaction: Element) -> str:
        stated = text(transaction, "CurrencyCode")
        found = {stated.upper()} | self.currencies if stated else self.currencies
        if len(found) > 1:
            raise FieldError("CurrencyCode", f"amounts in several currencies: {sorted(found)}")
        if not found:
            raise FieldError(
                "CurrencyCode",
                "no currency: neither a CurrencyCode element nor Currency attributes",
            )
        return found.pop()


def _decimal(value: str | None, at: str) -> Decimal:
    if value is None or not value.strip():
        raise FieldError(at, "is empty")
    try:
        amount = Decimal(value.strip())
    except decimal.InvalidOperation:
        raise FieldError(at, f"{value.strip()!r} is not a decimal number") from None
    if not amount.is_finite():
        raise FieldError(at, f"{value.strip()!r} is not a finite number")
    return amount


def _points(value: str | None, at: str) -> int | None:
    if value is None:
        return None
    if not value.isdigit():
        raise FieldError(at, f"{value!r} is not a whole number of points")
    return int(value)


def _item_name(element: Element) -> str | None:
    item = child(element, "ItemID")
    return attribute(item, "Name") if item is not None else None


def _tender_reference(tender: Element) -> str | None:
    """A masked card or gift card number, else the authorisation code: what finance reconciles by."""
    for name in ("PrimaryAccountNumber", "CardNumber", "SerialNumber", "AuthorizationCode"):
        found = descendant(tender, name)
        if found is not None and found.text and found.text.strip():
            return found.text.strip()
    return None


def _loyalty_card(body: Element) -> str | None:
    account = child(body, "LoyaltyAccount")
    if account is None:
        return None
    for name in ("PrimaryAccountNumber", "LoyaltyAccountID", "CustomerAccountID"):
        found = descendant(account, name)
        if found is not None and found.text and found.text.strip():
            return found.text.strip()
    return None


def _link(element: Element) -> TransactionLinkRecord:
    return TransactionLinkRecord(
        key=read_pos_key(element),
        line=text(element, "LineItemSequenceNumber"),
        reason=attribute(element, "ReasonCode") or text(element, "ReasonCode"),
    )


def _is_cancelled(transaction: Element, body: Element) -> bool:
    status = (attribute(body, "TransactionStatus") or "").lower()
    flags = (attribute(transaction, "CancelFlag") or "", attribute(body, "CancelFlag") or "")
    return status in {"canceled", "cancelled"} or any(f.lower() in _TRUE for f in flags)

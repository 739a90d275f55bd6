"""Small hand-written POSLog journals for intake tests: good baskets and ones that fail."""

from __future__ import annotations

NS = "http://www.nrf-arts.org/IXRetail/namespace/"


def sale(
    sequence: int, *, amount: str = "2.50", store: str = "AMS01", status: str = "Finished"
) -> str:
    """A one-line VAT-inclusive card sale of a packaged item."""
    return f"""
  <Transaction>
    <RetailStoreID>{store}</RetailStoreID><WorkstationID>1</WorkstationID>
    <SequenceNumber>{sequence}</SequenceNumber><BusinessDayDate>2026-11-27</BusinessDayDate>
    <EndDateTime>2026-11-27T09:00:00+01:00</EndDateTime><CurrencyCode>EUR</CurrencyCode>
    <RetailTransaction TransactionStatus="{status}">
      <LineItem><SequenceNumber>1</SequenceNumber>
        <Sale><POSIdentity POSIDType="GTIN"><POSItemID>8799999000017</POSItemID></POSIdentity>
          <ItemID>SKU-10001</ItemID><RegularSalesUnitPrice>{amount}</RegularSalesUnitPrice>
          <ExtendedAmount>{amount}</ExtendedAmount><Quantity UnitOfMeasureCode="EA">1</Quantity>
          <TaxIncludedInPriceFlag>true</TaxIncludedInPriceFlag></Sale></LineItem>
      <LineItem><SequenceNumber>2</SequenceNumber>
        <Tender TenderType="CreditDebit" TypeCode="Sale"><Amount>{amount}</Amount></Tender></LineItem>
      <Total TotalType="TransactionGrandAmount">{amount}</Total>
      <Total TotalType="TransactionTaxAmount">0.21</Total>
    </RetailTransaction>
  </Transaction>"""


def sale_without_price(sequence: int) -> str:
    """A sale line that names no price: this transaction fails at RegularSalesUnitPrice."""
    return (
        sale(sequence)
        .replace("<RegularSalesUnitPrice>2.50</RegularSalesUnitPrice>", "")
        .replace("<ExtendedAmount>2.50</ExtendedAmount>", "")
    )


def sign_on(sequence: int) -> str:
    """An operator sign-on control transaction."""
    return f"""
  <Transaction>
    <RetailStoreID>AMS01</RetailStoreID><WorkstationID>1</WorkstationID>
    <SequenceNumber>{sequence}</SequenceNumber><BusinessDayDate>2026-11-27</BusinessDayDate>
    <ControlTransaction><OperatorSignOn/></ControlTransaction>
  </Transaction>"""


def journal(*transactions: str) -> bytes:
    """A POSLog file holding the given transactions."""
    return (
        f'<?xml version="1.0"?>\n<POSLog xmlns="{NS}">{"".join(transactions)}\n</POSLog>\n'.encode()
    )

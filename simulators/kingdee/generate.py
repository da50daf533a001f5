"""Seedable bulk data for the Kingdee simulator: N suppliers, materials, POs (x lines), BOMs, MOs, stock.

``seed(state, n_pos=10_000, lines_per_po=10, seed=7)`` writes audited rows straight into the
tables (no per-row validation: the generator builds them valid), so 100 000 PO lines take about
a second. The same arguments and ``seed`` always give the same data. ``touch`` changes a
fraction of PO lines (quantity + 1) and moves their bills' ``FModifyDate``, for incremental-sync
benchmarks. Both are reachable over HTTP (``POST /__sim/seed``, ``POST /__sim/touch``) and from
the CLI (``python -m simulators.kingdee --seed-pos 10000 --lines-per-po 10``).

Codes (EXTENSION, chosen so the hub's crosswalks know them): suppliers ``SUP-001`` ... (the first
two are the demo suppliers), materials ``1.02.0033``, ``1.02.0041``, ``1.03.0100`` (the demo
materials) then ``8.01.0001`` ...; ``mappings/crosswalks/{suppliers,materials}.csv`` carry
``kingdee`` rows for ``SUP-001``..``SUP-020`` and for the first 50 materials, so keep
``n_suppliers <= 20`` and ``n_materials <= 50`` when every record should map; codes beyond
those are unknown to the hub on purpose (``UNKNOWN_SUPPLIER`` / ``UNKNOWN_MATERIAL``).
Existing rows with the same numbers (e.g. the demo seed) are kept, not duplicated.
"""
from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any, Optional

DEMO_MATERIAL_NUMBERS = ("1.02.0033", "1.02.0041", "1.03.0100")
ORG = {"FNumber": "100"}
CURRENCY = "PRE001"
STOCKS = ("CK01", "CK02")
WORKSHOPS = ("WS01", "WS02")
DEFAULT_START = "2025-06-01T08:00:00"
#: seconds between two generated bills' FModifyDate: later bills are "newer", like real data
MODIFY_STEP_SECONDS = 30


def supplier_number(i: int) -> str:
    return f"SUP-{i:03d}"


def material_number(i: int) -> str:
    """0-based: the demo materials first, then ``8.01.0001`` ..."""
    if i < len(DEMO_MATERIAL_NUMBERS):
        return DEMO_MATERIAL_NUMBERS[i]
    return f"8.01.{i - len(DEMO_MATERIAL_NUMBERS) + 1:04d}"


def seed(state: Any, n_suppliers: int = 20, n_materials: int = 50, n_pos: int = 100, lines_per_po: int = 5,
         n_boms: int = 10, n_mos: int = 20, n_stock: Optional[int] = None, *, seed: int = 0,
         start: str = DEFAULT_START) -> dict[str, int]:
    """Add generated, audited data to ``state`` (a ``KingdeeState``); returns rows added per form.

    ``n_stock`` defaults to one inventory row per material and stock (``2 * n_materials``).
    """
    for name, value in (("n_suppliers", n_suppliers), ("n_materials", n_materials), ("n_pos", n_pos),
                        ("lines_per_po", lines_per_po), ("n_boms", n_boms), ("n_mos", n_mos)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a whole number >= 0")
    if (n_pos or n_boms or n_mos or n_stock) and (n_suppliers < 1 or n_materials < 2):
        raise ValueError("bills need n_suppliers >= 1 and n_materials >= 2")
    rng = random.Random(seed)
    t0 = dt.datetime.fromisoformat(start)
    added = {"BD_Supplier": 0, "BD_MATERIAL": 0, "PUR_PurchaseOrder": 0, "ENG_BOM": 0, "PRD_MO": 0,
             "STK_Inventory": 0}
    with state.lock:
        stamp = _Clock(t0)
        if state.find("BD_Currency", number=CURRENCY) is None:
            state.insert("BD_Currency", _master(state, CURRENCY, "人民币", stamp.next(), FCode="CNY"))
        for i in range(1, n_suppliers + 1):
            number = supplier_number(i)
            if state.find("BD_Supplier", number=number) is None:
                state.insert("BD_Supplier", _master(state, number, f"模拟供应商{i:03d}", stamp.next(),
                                                    FShortName=f"供应商{i:03d}", FCreateOrgId=ORG, FUseOrgId=ORG))
                added["BD_Supplier"] += 1
        units: dict[str, str] = {}
        for i in range(n_materials):
            number = material_number(i)
            unit = "kg" if i >= len(DEMO_MATERIAL_NUMBERS) and i % 7 == 0 else "Pcs"
            existing = state.find("BD_MATERIAL", number=number)
            if existing is None:
                state.insert("BD_MATERIAL", _master(state, number, f"模拟物料 {number}", stamp.next(),
                                                    FSpecification=f"SPEC-{i:04d}", FBaseUnitId={"FNumber": unit},
                                                    FCreateOrgId=ORG, FUseOrgId=ORG))
                added["BD_MATERIAL"] += 1
            else:
                unit = (existing.get("FBaseUnitId") or {}).get("FNumber") or unit
            units[number] = unit
        suppliers = [supplier_number(i) for i in range(1, n_suppliers + 1)]
        materials = list(units)
        for _ in range(n_pos):
            _purchase_order(state, rng, stamp, suppliers, materials, units, lines_per_po)
            added["PUR_PurchaseOrder"] += 1
        for i in range(n_boms):
            _bom(state, rng, stamp, materials, units, i)
            added["ENG_BOM"] += 1
        for _ in range(n_mos):
            _production_order(state, rng, stamp, materials, units)
            added["PRD_MO"] += 1
        stock_rows = 2 * len(materials) if n_stock is None else n_stock
        for i in range(stock_rows):
            _inventory(state, rng, materials, units, i)
            added["STK_Inventory"] += 1
    return added


def touch(state: Any, form_id: str = "PUR_PurchaseOrder", fraction: float = 0.01, *, seed: int = 0,
          now: Optional[str] = None, by: str = "lines") -> dict[str, Any]:
    """Change ``fraction`` of a bill form's entry lines (quantity + 1) and move their bills' FModifyDate.

    ``by="lines"`` picks that fraction of all entry lines (1 % of 100 000 lines in 10-line bills
    touches ~960 bills); ``by="bills"`` picks that fraction of the bills and one line in each
    (1 % = 100 bills). Every touched bill gets ``FModifyDate`` = ``now`` (default: the state's
    clock), but never earlier than one second after its previous value, so an incremental pull
    always sees it.
    """
    if not 0.0 < float(fraction) <= 1.0:
        raise ValueError("fraction must be in (0, 1]")
    if by not in ("lines", "bills"):
        raise ValueError("by must be lines or bills")
    spec = state.spec(form_id)
    if not spec.entry_key:
        raise ValueError(f"{spec.form_id} has no entry lines to touch")
    qty_key = next((k for k in ("FQty", "FRealQty", "FActReceiveQty", "FNumerator") if k in spec.entry), None)
    if qty_key is None:
        raise ValueError(f"{spec.form_id} has no quantity on its lines")
    rng = random.Random(seed)
    with state.lock:
        table = state.table(form_id)
        if by == "lines":
            lines = [(fid, n) for fid in sorted(table) for n in range(len(table[fid].get(spec.entry_key) or []))]
            count = min(len(lines), max(1, round(len(lines) * float(fraction)))) if lines else 0
            chosen = rng.sample(lines, count) if count else []
        else:
            bills_with_lines = [fid for fid in sorted(table) if table[fid].get(spec.entry_key)]
            count = min(len(bills_with_lines), max(1, round(len(bills_with_lines) * float(fraction))))
            chosen = [(fid, rng.randrange(len(table[fid][spec.entry_key])))
                      for fid in (rng.sample(bills_with_lines, count) if bills_with_lines else [])]
        when = dt.datetime.fromisoformat(now) if now else dt.datetime.fromisoformat(state.now())
        bills: set[Any] = set()
        for fid, n in chosen:
            bill = table[fid]
            row = bill[spec.entry_key][n]
            row[qty_key] = (row.get(qty_key) or 0) + 1
            if "FRemainReceiveQty" in row:
                row["FRemainReceiveQty"] = row[qty_key]
            bills.add(fid)
        latest = when
        for fid in bills:
            bill = table[fid]
            previous = dt.datetime.fromisoformat(bill["FModifyDate"]) if bill.get("FModifyDate") else None
            moved = max(when, previous + dt.timedelta(seconds=1)) if previous else when
            bill["FModifyDate"] = moved.replace(microsecond=0).isoformat()
            latest = max(latest, moved)
        state.version += 1
    return {"form": spec.form_id, "lines": len(chosen), "bills": len(bills),
            "modified": latest.replace(microsecond=0).isoformat()}


class _Clock:
    """Strictly increasing FModifyDate values, MODIFY_STEP_SECONDS apart."""

    def __init__(self, start: dt.datetime) -> None:
        self.current = start

    def next(self) -> str:
        self.current += dt.timedelta(seconds=MODIFY_STEP_SECONDS)
        return self.current.isoformat()


def _master(state: Any, number: str, name: str, when: str, **fields: Any) -> dict[str, Any]:
    return {"FID": state.new_fid(), "FNumber": number, "FName": name, "FDocumentStatus": "C", "FForbidStatus": "A",
            "FCreateDate": when, "FModifyDate": when, "FApproveDate": when, **fields}


def _bill(state: Any, form_id: str, when: str, **fields: Any) -> dict[str, Any]:
    return {"FID": state.new_fid(), "FBillNo": state.next_number(form_id), "FDocumentStatus": "C",
            "FForbidStatus": "A", "FCreateDate": when, "FModifyDate": when, "FApproveDate": when, **fields}


def _purchase_order(state: Any, rng: random.Random, stamp: _Clock, suppliers: list[str], materials: list[str],
                    units: dict[str, str], lines_per_po: int) -> None:
    when = stamp.next()
    order_date = when[:10] + "T00:00:00"
    entries = []
    for seq in range(1, lines_per_po + 1):
        material = rng.choice(materials)
        qty = rng.randint(1, 1000)
        price = round(rng.uniform(0.1, 99.99), 2)
        delivery = dt.datetime.fromisoformat(order_date) + dt.timedelta(days=rng.randint(7, 60))
        entries.append({"FEntryID": state.new_entry_id(), "FSeq": seq, "FMaterialId": {"FNumber": material},
                        "FUnitId": {"FNumber": units[material]}, "FQty": qty, "FPrice": price,
                        "FTaxPrice": round(price * 1.13, 4), "FDeliveryDate": delivery.isoformat(),
                        "FRemainReceiveQty": qty, "FMtoNo": ""})
    state.insert("PUR_PurchaseOrder", _bill(
        state, "PUR_PurchaseOrder", when, FDate=order_date, FBillTypeID={"FNUMBER": "CGDD01_SYS"},
        FSupplierId={"FNumber": rng.choice(suppliers)}, FPurchaseOrgId=ORG, FSettleCurrId={"FNumber": CURRENCY},
        FNote="", FPOOrderEntry=entries))


def _bom(state: Any, rng: random.Random, stamp: _Clock, materials: list[str], units: dict[str, str],
         i: int) -> None:
    parent = materials[i % len(materials)]
    number = f"{parent}_V{1 + i // len(materials)}.0"
    if state.find("ENG_BOM", number=number) is not None:
        return
    children = rng.sample([m for m in materials if m != parent], min(len(materials) - 1, rng.randint(2, 5)))
    denominator = rng.choice((1, 1, 1, 2, 10))  # mostly "per one", sometimes per 2 or per 10
    entries = [{"FEntryID": state.new_entry_id(), "FSeq": seq, "FMaterialIdChild": {"FNumber": child},
                "FChildUnitId": {"FNumber": units[child]}, "FNumerator": rng.randint(1, 8),
                "FDenominator": denominator, "FScrapRate": rng.choice((0, 0, 1.5, 2)),
                "FEffectDate": "2025-01-01T00:00:00", "FExpireDate": "9999-12-31T00:00:00"}
               for seq, child in enumerate(children, start=1)]
    when = stamp.next()
    state.insert("ENG_BOM", {**_master(state, number, f"{parent} BOM", when), "FMaterialId": {"FNumber": parent},
                             "FUnitId": {"FNumber": units[parent]}, "FCreateOrgId": ORG, "FUseOrgId": ORG,
                             "FTreeEntity": entries})


def _production_order(state: Any, rng: random.Random, stamp: _Clock, materials: list[str],
                      units: dict[str, str]) -> None:
    when = stamp.next()
    start = dt.datetime.fromisoformat(when[:10]) + dt.timedelta(days=rng.randint(1, 20))
    entries = []
    for seq in range(1, rng.choice((1, 1, 1, 2)) + 1):  # most MOs carry one product, some two
        material = rng.choice(materials)
        entries.append({"FEntryID": state.new_entry_id(), "FSeq": seq, "FMaterialId": {"FNumber": material},
                        "FUnitId": {"FNumber": units[material]}, "FQty": rng.randint(10, 500),
                        "FPlanStartDate": start.isoformat(),
                        "FPlanFinishDate": (start + dt.timedelta(days=rng.randint(1, 5))).isoformat(),
                        "FWorkShopID": {"FNumber": rng.choice(WORKSHOPS)}, "FStockId": {"FNumber": "CK01"},
                        "FBomId": {"FNumber": f"{material}_V1.0"}, "FStatus": rng.choice(("1", "2", "3", "3", "4"))})
    state.insert("PRD_MO", _bill(state, "PRD_MO", when, FDate=when[:10] + "T00:00:00",
                                 FBillType={"FNUMBER": "SCDD01_SYS"}, FPrdOrgId=ORG, FTreeEntity=entries))


def _inventory(state: Any, rng: random.Random, materials: list[str], units: dict[str, str], i: int) -> None:
    material = materials[i % len(materials)]
    stock = STOCKS[(i // len(materials)) % len(STOCKS)]
    # every third row, and every row past one per material and stock, is batch-managed: keeps
    # (material, stock, lot) unique, which is StockLevel's business key
    lot = f"L{rng.randint(2501, 2512)}{i:04d}" if i % 3 == 0 or i >= len(STOCKS) * len(materials) else None
    state.insert("STK_Inventory", {
        # real STK_Inventory ids are GUID strings; a client must not assume integer FIDs here
        "FID": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "FMaterialId": {"FNumber": material}, "FStockId": {"FNumber": stock},
        "FLot": {"FNumber": lot} if lot else None, "FBaseQty": rng.randint(0, 5000),
        "FBaseUnitId": {"FNumber": units[material]}, "FStockOrgId": ORG,
        "FStockStatusId": {"FNumber": "KCZT01_SYS"},
    })

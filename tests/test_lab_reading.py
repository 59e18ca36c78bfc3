"""Lab values in report layouts the rules were not tuned on: a header row naming the columns,
comma decimals and names in other languages, OCR's letters inside numbers, values split from their
names by a line break, blood gases, serology, rows with several dated results, and the text in a
report that is no result. Each snippet was written for these tests; its labels are read from it."""

from __future__ import annotations

import time
import unicodedata
from datetime import date

import pytest

from medupload.pipeline.extraction import extract
from medupload.pipeline.lab_ocr import repair_ocr_digits

TODAY = date(2026, 12, 1)


def _labs(text: str) -> list[tuple[str, str | None, str | None]]:
    return [(f.concept, f.value, f.unit) for f in extract(text, today=TODAY).facts if f.kind == "lab"]


def _valued(text: str) -> set[tuple[str, str | None, str | None]]:
    return {lab for lab in _labs(text) if lab[1] is not None}


# ---- A header row names the result column, wherever it stands.

OBSERVED_VALUE = """DEPARTMENT OF BIOCHEMISTRY
Test Name                    Observed Value     Unit          Biological Reference Interval
HAEMOGLOBIN                  11.2               g/dL          13.0 - 17.0
Method : Cyanmethemoglobin
SERUM CREATININE             1.12               mg/dL         0.7 - 1.3
Method : Jaffe's Kinetic 2
BLOOD UREA                   32                 mg/dL         15 - 40
"""

RANGE_BEFORE_RESULT = """Test                Reference range     Result    Flag   Units
Potassium           3.5 - 5.1           5.9       H      mmol/L
Glucose             70 - 99             142       H      mg/dL
Calcium             8.6 - 10.3          9.4              mg/dL
"""

UNIT_BEFORE_RESULT = """Analyte          Units       Result     Ref
Sodium           mmol/L      131 L      135-145
ALT              U/L         88 H       7-40
Albumin          g/L         38         35-50
"""

IN_OUT_OF_RANGE = """Test Name              In Range      Out of Range      Reference Range
GLUCOSE                               126 H             65-99 mg/dL
CREATININE             0.94                             0.70-1.33 mg/dL
"""


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        (
            OBSERVED_VALUE,
            {("hemoglobin", "11.2", "g/dL"), ("creatinine", "1.12", "mg/dL"), ("urea", "32", "mg/dL")},
        ),
        (
            RANGE_BEFORE_RESULT,
            {("potassium", "5.9", "mmol/L"), ("glucose", "142", "mg/dL"), ("calcium", "9.4", "mg/dL")},
        ),
        (
            UNIT_BEFORE_RESULT,
            {
                ("sodium", "131", "mmol/L"),
                ("alanine aminotransferase", "88", "U/L"),
                ("albumin", "38", "g/L"),
            },
        ),
        (IN_OUT_OF_RANGE, {("glucose", "126", "mg/dL"), ("creatinine", "0.94", "mg/dL")}),
    ],
)
def test_the_result_is_the_cell_under_the_result_heading(
    report: str, expected: set[tuple[str, str, str]]
) -> None:
    assert _valued(report) == expected


def test_a_method_line_under_a_test_gives_no_result() -> None:
    # "Method : Jaffe's Kinetic 2": the digit belongs to the method's name.
    assert all(value in {"11.2", "1.12", "32"} for _, value, _ in _valued(OBSERVED_VALUE))


# ---- Comma decimals and analyte names a lab prints in its own language.

GERMAN_REPORT = """Laborbefund
Parameter          Ergebnis    Einheit    Referenzbereich
Kreatinin          1,12        mg/dl      0,50 - 1,20
Harnstoff          38          mg/dl      17 - 43
Hämoglobin         13,8        g/dl       13,5 - 17,5
Kalium             4,3         mmol/l     3,5 - 5,1
Leukozyten         7,2         /nl        4,0 - 10,0
"""


def test_a_german_report_with_comma_decimals() -> None:
    assert _valued(GERMAN_REPORT) == {
        ("creatinine", "1.12", "mg/dL"),
        ("urea", "38", "mg/dL"),
        ("hemoglobin", "13.8", "g/dL"),
        ("potassium", "4.3", "mmol/L"),
        ("white blood cell count", "7.2", "10*3/uL"),
    }


def test_comma_decimals_in_an_english_row() -> None:
    assert _valued("Creatinine   1,12 mg/dL   (0,70-1,20)\nTSH   2,35 mIU/L") == {
        ("creatinine", "1.12", "mg/dL"),
        ("thyroid stimulating hormone", "2.35", "mIU/L"),
    }


# ---- OCR's letters inside numbers.


@pytest.mark.parametrize(
    ("ocr", "repaired"),
    [
        ("Glucose 1O2 mg/dL", "Glucose 102 mg/dL"),
        ("Potassium 4.l mmol/L", "Potassium 4.1 mmol/L"),
        ("Creatinine O.94", "Creatinine 0.94"),
        ("Hb 1S.2 g/dL", "Hb 15.2 g/dL"),
        # words and units that look like numbers stay as written
        ("S1 S2 normal, O2 sat 95%, I10, 2l and 2.5l of fluid, CO2 2S", None),
    ],
)
def test_ocr_letters_inside_numbers_are_read_as_digits(ocr: str, repaired: str | None) -> None:
    assert repair_ocr_digits(ocr) == (repaired or ocr)
    assert len(repair_ocr_digits(ocr)) == len(ocr)  # offsets stay


def test_an_ocr_report_row_keeps_its_value() -> None:
    report = "Glucose        1O2 mg/dL     70-99\nPotassium      4.l mmol/L    3.5-5.1\n"
    assert _valued(report) == {("glucose", "102", "mg/dL"), ("potassium", "4.1", "mmol/L")}


# ---- A value split from its name by a line break (a portal's cells, OCR's lines).


def test_a_value_on_the_line_under_its_name() -> None:
    report = "Creatinine\n   1.12 mg/dL      0.70 - 1.20\nHemoglobin:\n\n13.2 g/dL\n"
    assert _valued(report) == {("creatinine", "1.12", "mg/dL"), ("hemoglobin", "13.2", "g/dL")}


def test_a_line_under_a_name_that_holds_more_than_a_value_is_not_read() -> None:
    assert _valued("Creatinine\n1.12 mg/dL was the value in 2019 per the old chart\n") == set()


# ---- Several dated results on one row.


def test_each_result_of_a_row_takes_its_own_date() -> None:
    text = "Creatinine 1.4 (11/12/2026), 1.9 (11/14/2026), 2.2 (11/20/2026)"
    facts = [(f.value, f.date) for f in extract(text, today=TODAY).facts if f.kind == "lab"]
    assert facts == [("1.4", "2026-11-12"), ("1.9", "2026-11-14"), ("2.2", "2026-11-20")]


def test_a_dated_value_then_another_test_is_not_a_second_result() -> None:
    text = "Creatinine 1.4 (11/12/2026), BUN 30 (11/12/2026)"
    assert _valued(text) == {("creatinine", "1.4", "mg/dL"), ("blood urea nitrogen", "30", "mg/dL")}


# ---- Blood gases and serology.

BLOOD_GAS = """ARTERIAL BLOOD GAS (on room air)
pH            7.31    L     7.35-7.45
pCO2          52      H     mmHg    35-45
pO2           68      L     mmHg    80-100
HCO3          24            mmol/L  22-26
Base excess   -2.1          mmol/L  -2 to +2
Lactate       1.8           mmol/L  0.5-2.2
sO2           93      %     95-99
"""


def test_a_blood_gas_panel() -> None:
    assert _valued(BLOOD_GAS) == {
        ("arterial ph", "7.31", None),
        ("carbon dioxide partial pressure", "52", "mm[Hg]"),
        ("oxygen partial pressure", "68", "mm[Hg]"),
        ("bicarbonate", "24", "mmol/L"),
        ("base excess", "-2.1", "mmol/L"),
        ("lactate", "1.8", "mmol/L"),
        ("oxygen saturation", "93", "%"),
    }


def test_serology_titre_and_reactivity() -> None:
    report = (
        "SEROLOGY\nANA (IFA)                    Positive   1:160   (speckled)\nHBsAg          Non-reactive\n"
    )
    assert _valued(report) == {  # the word and the titre are both results (lab_reports_3.md call 6)
        ("antinuclear antibody", "positive", None),
        ("antinuclear antibody", "1:160", None),
        ("hepatitis b surface antigen", "non-reactive", None),
    }


# ---- Notes: how dictation tells a series, a present value, a level drawn at a clock time.


def test_a_series_told_with_then() -> None:
    text = (
        "CK was 240, then 388, and then 602 overnight. "
        "Troponin was 0.04, then 0.31, and then 12.5 this morning."
    )
    values = [(f.concept, f.value) for f in extract(text, today=TODAY).facts if f.kind == "lab"]
    assert values == [
        ("creatine kinase", "240"),
        ("creatine kinase", "388"),
        ("creatine kinase", "602"),
        ("troponin i", "0.04"),
        ("troponin i", "0.31"),
        ("troponin i", "12.5"),
    ]


def test_then_and_a_span_of_time_is_no_second_result() -> None:
    assert _valued("Creatinine was 1.2, then 2 days later it rose.") == {("creatinine", "1.2", "mg/dL")}


def test_a_value_told_as_current_and_the_bicarb_of_a_list() -> None:
    assert _valued("His glucose is currently 171. Chloride 100, bicarb 21.") == {
        ("glucose", "171", "mg/dL"),
        ("chloride", "100", "mmol/L"),
        ("bicarbonate", "21", "mmol/L"),
    }


def test_a_clock_time_before_a_level_is_not_its_value() -> None:
    facts = extract("The valproic acid level obtained at 0835 hours was 79.", today=TODAY).facts
    assert [(f.concept, f.value) for f in facts if f.kind == "lab"] == [("valproic acid level", "79")]


# ---- Text in a report that is no result: phone, accession and page numbers, a previous-result
# column, a method with digits, a dilution, a cancelled test, the limits a lab phones.

NO_RESULT_TEXT = """CITY PATHOLOGY SERVICES                Tel: 02 9555 0142   Fax: 02 9555 0143
Accession: 26-335-0147      Lab No. 4471902           Page 1 of 2
Collected: 11/28/2026 07:40

Test                 Result    Flag   Units      Reference Range    Previous (11/02/2026)
Sodium                                mmol/L     135 - 145          141
Potassium            6.4       HH     mmol/L     3.5 - 5.1          4.2
Creatinine           2.10      H      mg/dL      0.70 - 1.20        1.45
  Method: IDMS-traceable enzymatic (Roche Cobas c702)
Glucose              455       H      mg/dL      70 - 99            212
  Sample diluted 1:2; result corrected for dilution factor 2.
Troponin I           see comment      ng/L       < 26
HbA1c                CANCELLED - insufficient sample

Critical result: Potassium 6.4 mmol/L phoned to Dr Lee at 09:12 on 11/28/2026, read back.
Critical limits: Potassium > 6.0 or < 2.8 mmol/L; Glucose > 450 mg/dL.
Previous creatinine 1.45 mg/dL on 11/02/2026.
For enquiries call 1800 555 014 ext 22.      Page 2 of 2
"""


def test_only_this_reports_results_are_read() -> None:
    assert _valued(NO_RESULT_TEXT) == {
        ("potassium", "6.4", "mmol/L"),
        ("creatinine", "2.10", "mg/dL"),
        ("glucose", "455", "mg/dL"),
    }


def test_a_long_adversarial_row_is_read_in_linear_time() -> None:
    row = "Test   Result   Units   Reference range\nSodium " + "1 2 3 4 5 " * 400 + "\n"
    started = time.perf_counter()
    _labs(row + ("Potassium  " + "-" * 3000 + "\n") + "Creatinine " + ". " * 3000)
    assert time.perf_counter() - started < 2.0


# ---- Layouts of a third set: flags before values, coded names, two units, transposed tables,
# analyser names, serology words and titres, thresholds and rejected samples.


def test_a_flag_printed_before_the_value_is_skipped() -> None:
    text = "Harnstoff (Urea)                +    48            mg/dl         17 - 43\n"
    assert ("urea", "48", "mg/dL") in _valued(text)


def test_a_coded_names_result_follows_its_code_in_brackets() -> None:
    text = (
        "    Serum potassium level (1000651000000109)                         4.7 mmol/L     [3.5 - 5.3]\n"
        "    eGFR using creatinine (CKD-EPI) per 1.73 square metres (1011481000000105)   73 mL/min/1.73m*2\n"
    )
    valued = _valued(text)
    assert ("potassium", "4.7", "mmol/L") in valued
    assert ("egfr", "73", "mL/min/1.73m2") in valued


def test_a_result_in_two_units_gives_both() -> None:
    text = "Créatinine (méthode enzymatique)    7,9 mg/L     69,8 µmol/L      (5,1 - 9,5)\n"
    valued = _valued(text)
    assert ("creatinine", "7.9", "mg/L") in valued
    assert ("creatinine", "69.8", "umol/L") in valued


def test_a_second_unit_on_the_line_below_is_a_second_result() -> None:
    text = (
        "HbA1c                           +    6,1           %             4,0 - 5,6\n"
        "                                     43            mmol/mol      20 - 38\n"
    )
    valued = _valued(text)
    assert ("hemoglobin a1c", "6.1", "%") in valued
    assert ("hemoglobin a1c", "43", "mmol/mol") in valued


def test_a_differentials_percent_and_giga_per_litre_count_on_one_line() -> None:
    text = (
        "Leucocytes    5,60 G/L   (4,00 - 10,00)\n   Lymphocytes      31,4 %     1,76 G/L     (1,00 - 4,00)\n"
    )
    valued = _valued(text)
    assert ("white blood cell count", "5.60", "10*3/uL") in valued
    assert ("lymphocytes percent", "31.4", "%") in valued
    assert ("absolute lymphocyte count", "1.76", "10*3/uL") in valued


TRANSPOSED = """PERTINENT LABORATORY DATA
Collected        WBC     Hgb     Na      K
                 K/uL    g/dL    mmol/L  mmol/L
03/02/26 14:22   18.4 H  12.9 L  131 L   3.3 L
03/04/26 05:15   8.1     11.9 L  138
(Blank cell = not run.)
"""


def test_a_transposed_table_dates_each_cell_by_its_row() -> None:
    found = {
        (f.concept, f.value, f.date) for f in extract(TRANSPOSED, today=TODAY).facts if f.value is not None
    }
    assert ("white blood cell count", "18.4", "2026-03-02") in found
    assert ("sodium", "138", "2026-03-04") in found
    assert ("potassium", "3.3", "2026-03-02") in found
    assert not any(c == "potassium" and d == "2026-03-04" for c, _v, d in found)  # the blank cell


def test_analyser_names_of_a_blood_gas() -> None:
    text = (
        "  ctHb                  10.9  g/dL ↓     [ 12.0  - 17.5  ]\n"
        "  cK+                    3.4  mmol/L ↓\n  FCOHb                  1.3  %\n"
    )
    valued = _valued(text)
    assert ("hemoglobin", "10.9", "g/dL") in valued
    assert ("potassium", "3.4", "mmol/L") in valued
    assert ("carboxyhemoglobin", "1.3", "%") in valued


def test_serology_words_and_a_titre_after_the_word() -> None:
    text = (
        "Varicella zoster IgG                        Detected\n"
        "Measles IgG                                 Equivocal\n"
        "  RPR (reflex)                              Reactive 1:4        (previous: not tested)\n"
    )
    values = {(c, v) for c, v, _u in _valued(text)}
    assert {("varicella zoster igg", "detected"), ("measles igg", "equivocal")} <= values
    assert {("rpr", "reactive"), ("rpr", "1:4")} <= values


def test_a_cultures_growth_is_read_from_a_result_column_not_from_prose() -> None:
    assert ("blood culture", "no growth", None) in _valued(
        "02/03/26  Blood cultures x 2 ..... No growth at 5 days\n"
    )
    assert not _valued("Urine culture: No growth.\n")


def test_a_threshold_in_words_and_a_rejection_criterion_are_not_results() -> None:
    assert not _valued("Previous result on file. HbA1c 48 mmol/mol or above is consistent with diabetes.\n")
    text = (
        "02/04/26  Sputum culture .... Specimen rejected - >25 squamous epithelial cells/LPF, not cultured\n"
    )
    assert not _valued(text)


# ---- A raw HL7 v2 message is structured data: OBX-5 is the value, never a code, range or time.

HL7_MESSAGE = (
    "MSH|^~\\&|LAB|ACME LAB|EHR|CLINIC|20261101093000||ORU^R01|MSG0001|P|2.5.1\n"
    "PID|1||000111^^^LAB^MR||[REDACTED]^[REDACTED]||19700101|M\n"
    "OBR|1|ORD1|FIL1|80048^BASIC METABOLIC PANEL^C4|||20261101080000\n"
    "OBX|1|NM|2823-3^Potassium^LN^K^Potassium^L||5.8|mmol/L|3.5-5.3|H|||F|||20261101080000\n"
    "NTE|1|L|Hemolysed specimens may read 0.5-1.0 mmol/L high.\n"
    "OBX|2|NM|3094-0^Urea Nitrogen (BUN)^LN^BUN^BUN^L||22|mg/dL|7-25|N|||F\n"
    "OBX|3|SN|1988-5^C-Reactive Protein^LN^CRP^CRP^L||<^0.5|mg/dL|<0.9|N|||F\n"
    "OBX|4|ST|2132-9^Vitamin B12^LN^B12^B12^L||TNP||200-900|||X\n"
)


def test_hl7_message_reads_each_obx_value_unit_and_name_span() -> None:
    facts = [f for f in extract(HL7_MESSAGE, today=TODAY).facts if f.kind == "lab"]
    read = {(f.text, f.value, f.unit) for f in facts}
    assert read == {
        ("Potassium", "5.8", "mmol/L"),
        ("Urea Nitrogen", "22", "mg/dL"),  # the name without its trailing "(BUN)"
        ("C-Reactive Protein", "<0.5", "mg/dL"),  # structured numeric "<^0.5"
    }
    assert all(HL7_MESSAGE[f.start : f.end] == f.text for f in facts)
    assert {f.concept for f in facts} >= {"potassium", "blood urea nitrogen"}


def test_hl7_codes_ranges_and_not_done_are_no_values() -> None:
    values = {value for _, value, _ in _valued(HL7_MESSAGE)}
    assert not values & {"2823-3", "3094-0", "3.5-5.3", "200-900", "20261101080000", "0.5-1.0", "1", "2"}


# ---- Vertical key-value blocks: the value and the unit sit on their own keyed lines.

KEYED_BLOCKS = """ORDER: CBC   Collected: 10/02/2026 08:00

   Test Name ......... Hemoglobin
   Result ............ 10.9         Abnormal Flag: L
   Units ............. g/dL
   Reference Range ... 11.7-15.5
   Prior Result ...... 12.4 (01/12/2025)
   Result Status ..... Final

   Test Name ......... Blood Group
   Result ............ A
   Result Status ..... Final

   Test Name ......... Ferritin
   Result ............ Cancelled - specimen hemolysed
   Comment ........... Ferritin 30 ng/mL or more
                       excludes iron deficiency.
"""


def test_keyed_block_reads_result_and_units_lines_and_skips_prior_and_reference() -> None:
    facts = [f for f in extract(KEYED_BLOCKS, today=TODAY).facts if f.kind == "lab" and f.value is not None]
    assert {(f.text, f.value, f.unit) for f in facts} == {
        ("Hemoglobin", "10.9", "g/dL"),
        ("Blood Group", "A", None),
    }
    assert next(f.concept for f in facts if f.text == "Hemoglobin") == "hemoglobin"


# ---- NPU specimen prefixes: "U-" is the urine test, "dU-" the 24-h excretion, blood keeps blood.

NPU_REPORT = """Analys                  Resultat   Enhet          Ref.intervall
P-Kalcium               2,61       mmol/L         2,15 - 2,50
U-Kalcium               4,02       mmol/L
dU-Kalcium              9,3        mmol/dygn      2,5 - 7,5
dU-Oxalat               0,41       mmol/dygn      < 0,45
Pt-Kreatininclearance   77         mL/min         90 - 140
Tidigare svar: P-Kalcium 2,55 mmol/L (2026-05-02).
dU-Kalcium > 7,5 mmol/dygn hos män talar för hyperkalciuri.
"""


def test_npu_prefix_decides_the_specimen_and_keeps_the_prefix_in_the_span() -> None:
    facts = [f for f in extract(NPU_REPORT, today=TODAY).facts if f.kind == "lab" and f.value is not None]
    read = {(f.concept, f.value) for f in facts}
    assert read == {
        ("calcium", "2.61"),
        ("urine calcium", "4.02"),
        ("24-hour urine calcium", "9.3"),
        ("24-hour urine oxalate", "0.41"),
        ("creatinine clearance", "77"),
    }
    assert {f.text.split()[0] for f in facts} >= {"U-Kalcium", "dU-Kalcium", "Pt-Kreatininclearance"}


# ---- Drug-screen tables: a drug's row is a result (screen word, confirmation concentration), its
# cut-off never; outside such a table the drug stays a medication.

DRUG_SCREEN = """Type: Urine
PRESCRIBED: Buprenorphine 8 mg SL daily

PRESUMPTIVE SCREEN (Immunoassay)   Result     Screen Cutoff (ng/mL)
  Buprenorphine                    POS        5
  Opiates                          NEG        300

DEFINITIVE (LC-MS/MS)              Result     Conc. ng/mL   Cutoff ng/mL
  Buprenorphine                    POS        148           5
  Gabapentin                       NEG        <500          500

THERAPEUTIC DRUG MONITORING
  Lithium, Serum            0.72     mmol/L     Therapeutic 0.60-1.20
"""


def test_drug_screen_rows_are_results_and_cutoffs_are_not() -> None:
    facts = extract(DRUG_SCREEN, today=TODAY).facts
    labs = {(f.concept, f.value) for f in facts if f.kind == "lab" and f.value is not None}
    assert labs == {
        ("urine buprenorphine screen", "POS"),
        ("urine opiates screen", "NEG"),
        ("urine buprenorphine", "POS"),
        ("urine buprenorphine", "148"),
        ("urine gabapentin", "NEG"),
        ("urine gabapentin", "<500"),
        ("lithium level", "0.72"),
    }
    medications = [f for f in facts if f.kind == "medication"]
    assert [(f.concept, f.value) for f in medications] == [("buprenorphine", "8")]


# ---- A coded table (No / code / name / result / range / unit), two of them side by side.


def _printed(*halves: tuple[str, ...]) -> str:
    """A line of two tables side by side, each cell padded to 12 printed columns (a CJK
    character takes two), the halves split by "|"."""

    def padded(cell: str) -> str:
        width = sum(2 if unicodedata.east_asian_width(c) in {"W", "F"} else 1 for c in cell)
        return cell + " " * (12 - width)

    return "| ".join("".join(padded(cell) for cell in half) for half in halves) + "\n"


_HEADER = ("No", "代号", "项目名称", "结果", "参考范围", "单位")
SIDE_BY_SIDE = (
    "标本种类：静脉血(EDTA-K2)\n"
    + _printed(_HEADER, _HEADER)
    + _printed(
        ("1", "WBC", "白细胞计数", "6.42", "3.5-9.5", "10^9/L"),
        ("3", "HGB", "血红蛋白", "121 ↓", "130-175", "g/L"),
    )
    + _printed(
        ("2", "PLT", "血小板计数", "236", "125-350", "10^9/L"),
        ("4", "PCT", "血小板压积", "0.24", "0.17-0.35", "%"),
    )
)


def test_side_by_side_coded_tables_read_each_half_by_its_columns() -> None:
    facts = [f for f in extract(SIDE_BY_SIDE, today=TODAY).facts if f.kind == "lab" and f.value is not None]
    assert {(f.text, f.concept, f.value, f.unit) for f in facts} == {
        ("白细胞计数", "white blood cell count", "6.42", "10^9/L"),
        ("血小板计数", "platelet count", "236", "10^9/L"),
        ("血红蛋白", "hemoglobin", "121", "g/L"),  # the arrow is a flag
        ("血小板压积", "plateletcrit", "0.24", "%"),  # PCT in a blood count is no procalcitonin
    }


# ---- Spanish names; a urinalysis headed "EXAMEN GENERAL DE ORINA" makes its rows urine tests.

SPANISH_URINE = """                              EXAMEN GENERAL DE ORINA
ESTUDIO                              RESULTADO     UNIDADES          VALORES DE REFERENCIA
Densidad                             1.020                           1.005 - 1.030
Urobilinógeno                        0.2           mg/dL             0.2 - 1.0
"""


def test_spanish_urinalysis_rows_are_urine_tests() -> None:
    assert _valued(SPANISH_URINE) == {
        ("urine specific gravity", "1.020", None),
        ("urine urobilinogen", "0.2", "mg/dL"),
    }


# ---- A FHIR R4 JSON export is parsed, not read as prose.

FHIR_BUNDLE = (
    "Exported from a health-records app\n"
    '{"resourceType":"Bundle","type":"collection","entry":['
    '{"resource":{"resourceType":"DiagnosticReport","status":"final","code":{"text":"PANEL"},'
    '"conclusion":"LDL 131 mg/dL is above goal of <100. Potassium was 6.1 before."}},'
    '{"resource":{"resourceType":"Observation","status":"final","category":[{"coding":[{"code":"laboratory"}]}],'
    '"code":{"coding":[{"system":"http://loinc.org","code":"2823-3","display":"Potassium [Moles/volume]"}],'
    '"text":"POTASSIUM"},"valueQuantity":{"value":6.1,"unit":"mmol/L"}}},'
    '{"resource":{"resourceType":"Observation","status":"entered-in-error","code":{"text":"SODIUM"},'
    '"valueQuantity":{"value":150,"unit":"mmol/L"},"referenceRange":[{"low":{"value":135}}]}},'
    '{"resource":{"resourceType":"Observation","status":"final",'
    '"code":{"text":"MICROALBUMIN/CREATININE RATIO"},'
    '"valueQuantity":{"value":30,"comparator":"<","unit":"mg/g Cr"},'
    '"referenceRange":[{"high":{"value":30}}]}},'
    '{"resource":{"resourceType":"Observation","status":"final","code":{"text":"BLOOD, URINE"},'
    '"valueString":"Trace"}},'
    '{"resource":{"resourceType":"Observation","status":"cancelled","code":{"text":"VITAMIN D"},'
    '"dataAbsentReason":{"text":"cancelled"}}},'
    '{"resource":{"resourceType":"Observation","status":"final",'
    '"category":[{"coding":[{"code":"vital-signs"}]}],"code":{"text":"Glucose"},'
    '"valueQuantity":{"value":99,"unit":"mg/dL"}}}]}\n'
)


def test_a_fhir_bundle_gives_each_lab_observation_on_its_printed_name() -> None:
    facts = [f for f in extract(FHIR_BUNDLE, today=TODAY).facts if f.kind == "lab" and f.value]
    read = {(FHIR_BUNDLE[f.start : f.end], f.value, f.unit) for f in facts}
    # the printed digits and comparator; no entered-in-error, cancelled, vital-sign or conclusion value
    assert read == {
        ("POTASSIUM", "6.1", "mmol/L"),
        ("MICROALBUMIN/CREATININE RATIO", "<30", "mg/g Cr"),
        ("BLOOD, URINE", "Trace", None),
    }


def test_json_that_is_no_fhir_resource_is_left_to_the_prose_reader() -> None:
    assert ("potassium", "4.1", "mmol/L") in _valued('{"note": 1}\nPotassium 4.1 mmol/L\n')


# ---- A result card: the name with a status word, the value on the next line.


def test_a_card_with_a_status_word_takes_the_value_on_the_next_line() -> None:
    report = (
        "Ferritin                                   ● NORMAL\n212 ug/L\nNormal range 30 - 400 ug/L\n\n"
        "Free T3                                    ○ NOT PROCESSED\nSample haemolysed.\n\n"
        "CRP (high sensitivity)                     ● HIGH\n7.2 mg/L\n"
    )
    assert _valued(report) == {("ferritin", "212", "ug/L"), ("c-reactive protein", "7.2", "mg/L")}


# ---- A Russian report: names, units, and comment lines that hold no result.


def test_a_russian_hormone_row_and_its_comment() -> None:
    report = (
        "Лютеинизирующий гормон (ЛГ)          13,6   ↑    мМЕ/мл       Фолликулярная фаза:  2,4 - 12,6\n"
        "                                                              Лютеиновая фаза:     1,0 - 11,4\n"
        "Комментарий:\nСоотношение ЛГ/ФСГ > 2,0 при сниженном ГСПГ может встречаться при СПКЯ.\n"
        "Предыдущий результат АМГ (12.01.2026): 8,7 нг/мл. Тестостерон общий (12.01.2026): 2,6 нмоль/л.\n"
    )
    assert _valued(report) == {("luteinizing hormone", "13.6", "mIU/mL")}  # decimal comma as a point


# ---- Numbers beside a name that are not this patient's blood result.


def test_a_synovial_fluid_count_is_no_blood_count() -> None:
    assert _valued("Synovial fluid 3/12: WBC 68,000, 91% PMN, crystals none\nWBC 10.9\n") == {
        ("white blood cell count", "10.9", "10*3/uL")
    }


def test_a_weight_after_a_name_like_token_is_no_result() -> None:
    assert _valued("Weight 64.2 kg (C1: 66.0 kg; change -2.7%)\n") == set()


def test_a_baseline_aside_and_a_dose_estimate_are_no_results() -> None:
    report = "CKD 3a (baseline Cr 1.1) admitted.\n   Cockcroft-Gault CrCl = 67 mL/min (weight 64.2 kg)\n"
    assert _valued(report) == set()
    # "return to baseline GFR of 31" still reports the GFR
    assert ("egfr", "31", "mL/min/1.73m2") in _valued("Return to baseline GFR of 31 mL/min.\n")


def test_a_change_told_with_the_date_of_each_value() -> None:
    note = "Hemoglobin dropped slightly from 14.1 on 6/8 to 12.9 on 7/19.\n"
    assert {value for _, value, _ in _valued(note)} == {"14.1", "12.9"}


def test_serology_and_tumour_marker_results_in_prose() -> None:
    note = "Rheumatoid factor: 52 U/ml. C4 complement: 19 mg/dl. CEA elevated at 8.6, prealbumin 16.\n"
    assert _valued(note) == {
        ("rheumatoid factor", "52", "U/mL"),
        ("complement c4", "19", "mg/dL"),
        ("carcinoembryonic antigen", "8.6", "ng/mL"),
        ("prealbumin", "16", "mg/dL"),
    }


def test_a_long_format_csv_export_is_read_by_its_header() -> None:
    export = (
        '"Collection Date","Order Name","Component","Value","Units","Result Status","Comment"\n'
        '"2026-01-08 08:12","HBA1C","Hemoglobin A1c","8.1","%","Final","Diabetes: >6.4"\n'
        '"2026-01-08 08:12","PSA, TOTAL","PSA","Canceled","","Canceled","not covered"\n'
        '"2026-04-09 07:48","BMP","Fasting","Yes","","Final",""\n'
        '"2026-04-09 07:48","BMP","Carbon Dioxide, Total","24","mmol/L","Final","goal ""<100"""\n'
        '"2026-04-09 07:48","HBA1C","Hemoglobin A1c","7.3","%","Final","Previous 8.1 % on 01/08/2026"\n'
    )
    facts = [f for f in extract(export, today=date(2026, 5, 1)).facts if f.kind == "lab"]
    assert {(f.concept, f.value, f.unit, f.date) for f in facts} == {
        ("hemoglobin a1c", "8.1", "%", "2026-01-08"),
        ("bicarbonate", "24", "mmol/L", "2026-04-09"),
        ("hemoglobin a1c", "7.3", "%", "2026-04-09"),
    }


def test_names_joined_to_values_by_a_hyphen() -> None:
    summary = "FBS-142 mg/dl (70-110) H\nTC-212, TG-245, HDL-38 (all mg/dl; desirable TC <200, TG <150)\n"
    assert {(concept, value) for concept, value, _ in _valued(summary)} == {
        ("glucose", "142"),
        ("total cholesterol", "212"),
        ("triglycerides", "245"),
        ("hdl cholesterol", "38"),
    }
    # one hyphen between a name and a number is no join ("range 70-110", "call 1800-000")
    assert _valued("Potassium 4.1 (3.5-5.1)\n") == {("potassium", "4.1", "mmol/L")}


def test_slash_grouped_names_take_the_values_in_their_places() -> None:
    values = {(c, v) for c, v, _ in _valued("U&E   Na/K/Cr/eGFR  134/3.9/1.2/37\n")}
    assert values == {("sodium", "134"), ("potassium", "3.9"), ("creatinine", "1.2"), ("egfr", "37")}
    # a count that does not match pairs nothing by position
    assert ("sodium", "134") not in {(c, v) for c, v, _ in _valued("Na/K  134/3.9/5\n")}


def test_an_arrow_trend_reads_its_latest_value_and_a_home_reading_none() -> None:
    assert {v for _, v, _ in _valued("CRP 280 -> 146 -> 46.\n")} == {"46"}
    assert _valued("Sugar was 168 last month at home with glucometer.\n") == set()


def test_a_hyphen_joined_name_wins_over_a_shorter_name_inside_it() -> None:
    summary = (
        "Blood Urea-32 mg/dl (15-40)\nS.Creatinine-1.1 mg/dl\nPPBS-218 mg/dl (<140) H\n"
        "Hb-13.9 g/dl, ESR-18mm/1st hr\n"
    )
    assert {(concept, value) for concept, value, _ in _valued(summary)} == {
        ("urea", "32"),
        ("creatinine", "1.1"),
        ("glucose", "218"),
        ("hemoglobin", "13.9"),
        ("erythrocyte sedimentation rate", "18"),
    }


def test_italian_and_uk_shorthand_names() -> None:
    referto = "Globuli bianchi (WBC)   6,84   10^3/µL\nSideremia   96   µg/dL\nBili 9, ALT 22, Alb 29\n"
    assert {concept for concept, _, _ in _valued(referto)} >= {
        "white blood cell count",
        "iron",
        "total bilirubin",
    }


def test_a_standardisation_after_the_name_is_read_past() -> None:
    referto = (
        "Emoglobina glicata (HbA1c) IFCC   45 *   mmol/mol\nEmoglobina glicata (HbA1c) DCCT   6,3 *   %\n"
    )
    assert _valued(referto) == {("hemoglobin a1c", "45", "mmol/mol"), ("hemoglobin a1c", "6.3", "%")}


def test_a_urine_routine_word_joined_by_a_hyphen() -> None:
    routine = "*URINE R/E*\nSugar-Nil, Pus cells-4-6/hpf\n*CBC*\nHb-13.9 g/dl, ESR-18mm/1st hr\n"
    assert ("urine glucose", "nil", None) in _valued(routine)


def test_a_markdown_row_with_br_merged_cells_reads_each_part_with_its_name() -> None:
    converted = (
        "| TEST | RESULT | FLAG | UNITS |\n|---|---|---|---|\n| Glucose | **118** | **High** | mg/dL |\n"
        "| HDL Cholesterol<br>Triglycerides | 52<br>**190** | <br>**High** | mg/dL<br>mg/dL |\n"
    )
    facts = {(f.concept, f.value): f for f in extract(converted).facts if f.kind == "lab" and f.value}
    assert set(facts) == {("glucose", "118"), ("hdl cholesterol", "52"), ("triglycerides", "190")}
    triglycerides = facts[("triglycerides", "190")]
    assert converted[triglycerides.start :].startswith("Triglycerides")  # placed where it was printed
    assert triglycerides.text == converted[triglycerides.start : triglycerides.end]


def test_a_column_stream_pairs_the_nth_name_with_the_nth_result() -> None:
    stream = (
        "RENAL PROFILE\nTest\nSodium\nPotassium\nResult\n139\n4.6\nFlag\nUnits\nmmol/L\nmmol/L\n"
        "Reference Range\n133 - 146\n3.5 - 5.3\n"
    )
    found = _valued(stream)
    assert found == {("sodium", "139", "mmol/L"), ("potassium", "4.6", "mmol/L")}
    sodium = next(f for f in extract(stream).facts if f.concept == "sodium")
    assert stream[sodium.start :].startswith("Sodium\n")


def test_a_handwritten_blank_and_a_corrected_value() -> None:
    form = (
        "Hb: __11.6__ g/dl          PLT: __318__ x10^9/L\n"
        "K+: _5.8_ _4.9_ mmol/L (rpt - 1st sample haemolysed)\n"
    )
    assert {(c, v) for c, v, _ in _valued(form)} == {
        ("hemoglobin", "11.6"),
        ("platelet count", "318"),
        ("potassium", "4.9"),
    }


def test_an_exam_block_result_line_and_previous_results_in_portuguese() -> None:
    laudo = (
        "________________\nGLICOSE\nMaterial: Soro     Método: Enzimático\n\nResultado: 104 mg/dL\n"
        "Resultados anteriores (14/03/2025): Hemoglobina 15,1 g/dL | Plaquetas 231.000 /mm³\n"
    )
    assert _valued(laudo) == {("glucose", "104", "mg/dL")}


def test_a_memo_code_before_the_lab_name_in_a_gp_journal() -> None:
    journal = (
        "14-03-2026  T90   U  CHOL   Cholesterol totaal                  4,8      mmol/l\n"
        "                  U  TSH    TSH                                 2,1      mU/l           0,4 - 4,0\n"
    )
    assert {(c, v) for c, v, _ in _valued(journal)} == {
        ("total cholesterol", "4.8"),
        ("thyroid stimulating hormone", "2.1"),
    }


def test_a_level_a_definition_states_is_no_result() -> None:
    defined = (
        "Vitamin D deficiency has been defined as a level of serum 25-OH vitamin D "
        "less than 20 ng/mL (1,2).\n"
    )
    assert _valued(defined) == set()
    assert _valued("Serum 25-OH vitamin D less than 20 ng/mL.\n") != set()  # the same words as a result


def test_a_slash_grouped_differential_reads_the_nth_number_for_the_nth_name() -> None:
    hitung = (
        "   Basofil/Eosinofil/Batang/Segmen/Limfosit/Monosit\n"
        "                              0/3/2/62/26/7  0-1/1-3/2-6/50-70/20-40/2-8   %        Flowsitometri\n"
    )
    found = {(c, v) for c, v, _ in _valued(hitung)}
    assert found == {
        ("basophils percent", "0"),
        ("eosinophils percent", "3"),
        ("band neutrophils percent", "2"),
        ("neutrophils percent", "62"),
        ("lymphocytes percent", "26"),
        ("monocytes percent", "7"),
    }


def test_a_forms_shorthand_result_words_and_plus_signs() -> None:
    dipstick = (
        "URINALYSIS\nDipstick (10 parameter):\n"
        "   Glucose: ++       Protein: +        Nitrites: Neg\nK+: 4.9 mmol/L\n"
    )
    assert {(c, v) for c, v, _ in _valued(dipstick)} == {
        ("urine glucose", "++"),
        ("urine protein", "+"),
        ("urine nitrite", "neg"),
        ("potassium", "4.9"),  # the plus of "K+" is the name's
    }


def test_psa_in_micrograms_per_litre() -> None:
    assert _valued("Total PSA   2.9   ug/L\n") == {("prostate specific antigen", "2.9", "ug/L")}


def test_a_turkish_tab_separated_export_with_its_urinalysis_and_a_comparison_line() -> None:
    export = (
        "Tetkik Adı\tSonuç\tSonuç Birimi\tReferans Değeri\n"
        "Üre\t31\tmg/dL\t17 - 43\n"
        "Demir (Serum)\t52\tµg/dL\t33 - 193\n"
        "Serbest T4\t1.05\tng/dL\t0.93 - 1.7\n\n"
        "Tetkik Adı\tSonuç\tSonuç Birimi\tReferans Değeri\n"
        "Tam İdrar Tetkiki\n"
        "Glukoz\tNegatif\t\tNegatif\n"
        "Lökosit esteraz\t2+\t\tNegatif\n\n"
        "Geçmiş tetkik (karşılaştırma için): HGB 13.1 g/dL; Ferritin 22 ng/mL\n"
    )
    assert {(c, v) for c, v, _ in _valued(export)} == {
        ("urea", "31"),
        ("iron", "52"),
        ("free thyroxine", "1.05"),
        ("urine glucose", "negatif"),  # the urinalysis's glucose, a word
        ("urine leukocyte esterase", "2+"),
    }  # the comparison line's earlier results are none of them


def test_a_component_trend_section_reads_one_result_per_dated_row() -> None:
    trend = (
        "TSH                                  Ref Range: 0.45 - 4.50 uIU/mL\n"
        "  Collected          Value      Flag   Units    Status\n"
        "  03/14/2026 08:05   6.10       H      uIU/mL   Final\n"
        "  10/02/2025 07:51   Hemolyzed                  Canceled - see comment\n"
        "  04/11/2025 09:30   2.75              uIU/mL   Corrected\n"
        "                     (previously reported as 2.57 on 04/11/2025)\n"
    )
    dated = {
        (f.value, f.date)
        for f in extract(trend, today=TODAY).facts
        if f.kind == "lab" and f.concept == "thyroid stimulating hormone"
    }
    assert dated == {("6.10", "2026-03-14"), ("2.75", "2025-04-11")}  # not the superseded 2.57

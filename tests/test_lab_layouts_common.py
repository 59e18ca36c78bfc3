"""Lab reports of the kinds a clinic uploads most, written for these tests (no report of the
labelled sets): a US commercial lab's print (Quest-style In Range / Out Of Range columns, LabCorp-style
performing-lab codes after the names), a hospital LIS print with flags glued to values (``168*H*``,
``131L``) and units glued (``6.1mmol/L``), a patient portal pasted one cell a line (with a range
line and a "Value" label between a name and its value), a UK GP print, a PDF turned to text with
names wrapped in a narrow column and a page header repeated mid-table, a phone photo read by OCR
(ragged columns, "1" for "l", "rn" for "m", "l05"), and keyed blocks whose value sits below
"Result:". Each report's expected set is every value it holds: no reference range, limit, page
number, ID or date may be read as a value."""

from __future__ import annotations

from datetime import date

import pytest

from medupload.pipeline.extraction import extract
from medupload.pipeline.lab_ocr import repair_ocr_digits

TODAY = date(2026, 12, 1)


def _valued(text: str) -> set[tuple[str, str | None, str | None]]:
    return {
        (f.concept, f.value, f.unit) for f in extract(text, today=TODAY).facts if f.kind == "lab" and f.value
    }


QUEST_STYLE = """Quest Diagnostics Incorporated                  Patient Report
Patient: [REDACTED]   DOB: 03/14/1962   Specimen: EN123456A   Collected: 11/20/2026 07:41
Test Name                          In Range    Out Of Range    Reference Range    Lab
COMPREHENSIVE METABOLIC PANEL
   GLUCOSE                                      104 H           65-99 mg/dL        EZ
                                  Fasting reference interval
   UREA NITROGEN (BUN)             17                          7-25 mg/dL         EZ
   CREATININE                      0.92                        0.70-1.33 mg/dL    EZ
   EGFR                            94                          > OR = 60 mL/min/1.73m2   EZ
   SODIUM                          140                         135-146 mmol/L     EZ
   POTASSIUM                       5.4 H                       3.5-5.3 mmol/L     EZ
   CHLORIDE                        103                         98-110 mmol/L      EZ
   CARBON DIOXIDE                  26                          20-32 mmol/L       EZ
   CALCIUM                         9.6                         8.6-10.3 mg/dL     EZ
   ALBUMIN                         4.4                         3.6-5.1 g/dL       EZ
   ALKALINE PHOSPHATASE            71                          35-144 U/L         EZ
   AST                             22                          10-35 U/L          EZ
   ALT                             31 H                        9-46 U/L           EZ
HEMOGLOBIN A1c                                 6.1 H           <5.7 % of total Hgb  EZ
   For someone without known diabetes, a hemoglobin A1c value between 5.7% and 6.4% is
   consistent with prediabetes and should be confirmed with a follow-up test.
CBC (INCLUDES DIFF/PLT)
   WHITE BLOOD CELL COUNT          6.2                         3.8-10.8 Thousand/uL  EZ
   HEMOGLOBIN                                   12.9 L          13.2-17.1 g/dL     EZ
   PLATELET COUNT                  245                         140-400 Thousand/uL   EZ
   ABSOLUTE NEUTROPHILS            3584                        1500-7800 cells/uL    EZ
"""
LABCORP_STYLE = """LabCorp   Patient Report   Specimen ID: 000-000-0000-0   Date Collected: 11/18/2026
Tests                       Result          Flag      Units              Reference Interval
Comp. Metabolic Panel (14)
 Glucose 01                 104             High      mg/dL              70-99
 BUN 01                     17                        mg/dL              6-24
 Creatinine 01              0.92                      mg/dL              0.76-1.27
 eGFR                       94                        mL/min/1.73        >59
 Sodium 01                  140                       mmol/L             134-144
 Potassium 01               5.4             High      mmol/L             3.5-5.2
 Calcium 01                 9.6                       mg/dL              8.7-10.2
Lipid Panel
 Cholesterol, Total 01      212             High      mg/dL              100-199
 Triglycerides 01           168             High      mg/dL              0-149
 HDL Cholesterol 01         44                        mg/dL              >39
 LDL Chol Calc (NIH)        138             High      mg/dL              0-99
TSH 02                      2.150                     uIU/mL             0.450-4.500
01  LabCorp Burlington  Dir: [REDACTED]
"""
HOSPITAL_GLUED_FLAGS = """ST MARY'S HOSPITAL - LABORATORY MEDICINE
Collected: 27/11/2026 06:15      Received: 27/11/2026 07:02
TEST            RESULT       UNITS        REF RANGE
Sodium          131L         mmol/L       [135-145]
Potassium       5.9H         mmol/L       [3.5-5.1]
Urea            12.4H        mmol/L       [2.5-7.8]
Creatinine      168*H*       umol/L       [59-104]
CRP             87 *H*       mg/L         [<5]
Glucose         6.1mmol/L                 [3.9-5.5]
Haemoglobin     98g/L   L                 [130-170]
Platelets       412x10^9/L                [150-400]
WBC             14.2 (H)     x10^9/L      [4.0-11.0]
Troponin T      <5           ng/L         [<14]
Bilirubin       >500         umol/L       [<21]
"""
PORTAL_ONE_CELL_A_LINE = """MyChart - Test Results
Comprehensive Metabolic Panel
Collected on Nov 20, 2026 7:41 AM
Results
Component
Your Value
Standard Range
Sodium
139 mmol/L
136 - 145 mmol/L
Potassium
5.6 mmol/L
3.5 - 5.1 mmol/L
High
Glucose
118 mg/dL
70 - 99 mg/dL
High
Creatinine
1.02 mg/dL
0.60 - 1.20 mg/dL
eGFR
>60 mL/min/1.73m2
>60 mL/min/1.73m2
"""
PORTAL_RANGE_LINE_BETWEEN = """Hemoglobin A1C
Normal range: 4.0 - 5.6 %
Value
7.2 %
High
LDL Cholesterol
Normal range: 0 - 99 mg/dL
Value
128 mg/dL
High
TSH
Normal range: 0.45 - 4.50 uIU/mL
Value
1.92 uIU/mL
"""
NHS_GP_PRINT = """Blood results received 26-Nov-2026 (Royal Infirmary)
Serum sodium level     138 mmol/L     [133.0 - 146.0]
Serum potassium level  5.6 mmol/L     [3.5 - 5.3]   Above high reference limit
Serum urea level       7.9 mmol/L     [2.5 - 7.8]   Above high reference limit
Serum creatinine level 112 umol/L     [59.0 - 104.0]   Above high reference limit
eGFR using creatinine (CKD-EPI) per 1.73 square metres   58 mL/min   [>90]
Haemoglobin estimation 124 g/L        [130.0 - 180.0]   Below low reference limit
Total white cell count 7.2 10*9/L     [4.0 - 11.0]
Platelet count         301 10*9/L     [150.0 - 450.0]
Haemoglobin A1c level - IFCC standardised   52 mmol/mol   [20.0 - 41.0]
Serum TSH level        3.1 mU/L       [0.27 - 4.2]
"""
PDF_WRAPPED_NAMES_PAGE_BREAK = """Page 1 of 2
Patient Name: [REDACTED]          MRN: 00012345        DOB: 01/02/1960
Test                     Result    Flag   Units        Reference Range
Alkaline
Phosphatase              188       H      U/L          40-129
Aspartate
Aminotransferase         45        H      U/L          0-40
Total Bilirubin          1.1              mg/dL        0.1-1.2
Lactate
Dehydrogenase            260       H      U/L          125-220
---------------------------------------------------------------
Printed 11/28/2026 14:02                      Page 1 of 2
Page 2 of 2
Patient Name: [REDACTED]          MRN: 00012345        DOB: 01/02/1960
Test                     Result    Flag   Units        Reference Range
Magnesium                1.9              mg/dL        1.6-2.6
Phosphorus               3.4              mg/dL        2.5-4.5
Ferritin                 12        L      ng/mL        30-400
Vitamin B12              412              pg/mL        232-1245
"""
PHONE_PHOTO_OCR = """CITY HOSP|TAL LAB0RATORY
Test     Resu1t  Units  Ref
Hemog1obin    13.2 g/d1    13.0-17.0
WBC  7,8   x10^3/uL  4.0-11.0
P1atelets 2l5  x10^3/uL  150-400
Sodiurn 139 mmol/L 135-145
Potassium   4.l   mmol/L  3.5-5.1
Creatinine     1,O2 mg/dL 0.7-1.3
G1ucose   l05 H  mg/dL  70-99
Cholestero1, Total 221 H mg/dL <200
"""
KEYED_RESULT_BELOW = """LABORATORY RESULTS
Test: Hemoglobin A1c
Result:
6.8 %   (H)
Reference: 4.0-5.6 %

Test: Ferritin
Result:
22 ng/mL
Reference: 30-400 ng/mL
"""

REPORTS = [
    pytest.param(
        QUEST_STYLE,
        {
            ("absolute neutrophil count", "3584", "cells/uL"),
            ("alanine aminotransferase", "31", "U/L"),
            ("albumin", "4.4", "g/dL"),
            ("alkaline phosphatase", "71", "U/L"),
            ("aspartate aminotransferase", "22", "U/L"),
            ("bicarbonate", "26", "mmol/L"),
            ("blood urea nitrogen", "17", "mg/dL"),
            ("calcium", "9.6", "mg/dL"),
            ("chloride", "103", "mmol/L"),
            ("creatinine", "0.92", "mg/dL"),
            ("egfr", "94", "mL/min/1.73m2"),
            ("glucose", "104", "mg/dL"),
            ("hemoglobin", "12.9", "g/dL"),
            ("hemoglobin a1c", "6.1", "%"),
            ("platelet count", "245", "10*3/uL"),
            ("potassium", "5.4", "mmol/L"),
            ("sodium", "140", "mmol/L"),
            ("white blood cell count", "6.2", "10*3/uL"),
        },
        id="quest",
    ),
    pytest.param(
        LABCORP_STYLE,
        {
            ("blood urea nitrogen", "17", "mg/dL"),
            ("calcium", "9.6", "mg/dL"),
            ("creatinine", "0.92", "mg/dL"),
            ("egfr", "94", "mL/min/1.73m2"),
            ("glucose", "104", "mg/dL"),
            ("hdl cholesterol", "44", "mg/dL"),
            ("ldl cholesterol", "138", "mg/dL"),
            ("potassium", "5.4", "mmol/L"),
            ("sodium", "140", "mmol/L"),
            ("thyroid stimulating hormone", "2.150", "mIU/L"),
            ("total cholesterol", "212", "mg/dL"),
            ("triglycerides", "168", "mg/dL"),
        },
        id="labcorp",
    ),
    pytest.param(
        HOSPITAL_GLUED_FLAGS,
        {
            ("c-reactive protein", "87", "mg/L"),
            ("creatinine", "168", "umol/L"),
            ("glucose", "6.1", "mmol/L"),
            ("hemoglobin", "98", "g/L"),
            ("platelet count", "412", "10*3/uL"),
            ("potassium", "5.9", "mmol/L"),
            ("sodium", "131", "mmol/L"),
            ("total bilirubin", ">500", "umol/L"),
            ("troponin t", "<5", "ng/L"),
            ("urea", "12.4", "mmol/L"),
            ("white blood cell count", "14.2", "10*3/uL"),
        },
        id="glued",
    ),
    pytest.param(
        PORTAL_ONE_CELL_A_LINE,
        {
            ("creatinine", "1.02", "mg/dL"),
            ("egfr", ">60", "mL/min/1.73m2"),
            ("glucose", "118", "mg/dL"),
            ("potassium", "5.6", "mmol/L"),
            ("sodium", "139", "mmol/L"),
        },
        id="mychart",
    ),
    pytest.param(
        PORTAL_RANGE_LINE_BETWEEN,
        {
            ("hemoglobin a1c", "7.2", "%"),
            ("ldl cholesterol", "128", "mg/dL"),
            ("thyroid stimulating hormone", "1.92", "mIU/L"),
        },
        id="mychart2",
    ),
    pytest.param(
        NHS_GP_PRINT,
        {
            ("creatinine", "112", "umol/L"),
            ("hemoglobin", "124", "g/L"),
            ("hemoglobin a1c", "52", "mmol/mol"),
            ("platelet count", "301", "10*3/uL"),
            ("potassium", "5.6", "mmol/L"),
            ("sodium", "138", "mmol/L"),
            ("thyroid stimulating hormone", "3.1", "mIU/L"),
            ("urea", "7.9", "mmol/L"),
            ("white blood cell count", "7.2", "10*3/uL"),
        },
        id="nhs",
    ),
    pytest.param(
        PDF_WRAPPED_NAMES_PAGE_BREAK,
        {
            ("alkaline phosphatase", "188", "U/L"),
            ("aspartate aminotransferase", "45", "U/L"),
            ("ferritin", "12", "ng/mL"),
            ("lactate dehydrogenase", "260", "U/L"),
            ("magnesium", "1.9", "mg/dL"),
            ("phosphorus", "3.4", "mg/dL"),
            ("total bilirubin", "1.1", "mg/dL"),
            ("vitamin b12", "412", "pg/mL"),
        },
        id="pdf",
    ),
    pytest.param(
        PHONE_PHOTO_OCR,
        {
            ("creatinine", "1.02", "mg/dL"),
            ("glucose", "105", "mg/dL"),
            ("hemoglobin", "13.2", "g/dL"),
            ("platelet count", "215", "10*3/uL"),
            ("potassium", "4.1", "mmol/L"),
            ("sodium", "139", "mmol/L"),
            ("total cholesterol", "221", "mg/dL"),
            ("white blood cell count", "7.8", "10*3/uL"),
        },
        id="ocr",
    ),
    pytest.param(
        KEYED_RESULT_BELOW,
        {
            ("ferritin", "22", "ng/mL"),
            ("hemoglobin a1c", "6.8", "%"),
        },
        id="below",
    ),
]


# ---- Each mechanism on its own, with a case it must not fire on.


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("Creatinine      168*H*       umol/L       [59-104]", {("creatinine", "168", "umol/L")}),
        ("Creatinine      168H         umol/L       59-104", {("creatinine", "168", "umol/L")}),
        ("Creatinine      168(H)*      umol/L       59-104", {("creatinine", "168", "umol/L")}),
        # a glued flag with no unit after it: a bare number, implausible in mg/dL, is umol/L
        ("Creatinine      168H                      59-104", {("creatinine", "168", "umol/L")}),
    ],
)
def test_a_flag_glued_or_starred_before_the_unit_column(
    row: str, expected: set[tuple[str, str, str]]
) -> None:
    assert _valued(row) == expected


def test_troponin_t_is_not_troponin_i() -> None:
    assert _valued("Troponin T      <5     ng/L    [<14]") == {("troponin t", "<5", "ng/L")}
    assert _valued("hs-TnT 23 ng/L") == {("troponin t", "23", "ng/L")}
    assert _valued("Troponin I  0.03 ng/mL") == {("troponin i", "0.03", "ng/mL")}


def test_a_wrapped_name_is_joined_but_not_a_gloss_or_heading_above_a_row() -> None:
    wrapped = "Test                     Result    Units\nAspartate\nAminotransferase         45        U/L\n"
    assert _valued(wrapped) == {("aspartate aminotransferase", "45", "U/L")}
    # a bilingual report's gloss under each row: the next row is read by its own name
    gloss = (
        "Non-HDL Cholesterol                 4.09       <4.20     mmol/L\n"
        "  Cholestérol non-HDL\n"
        "Cholesterol/HDL Ratio               5.0        <5.0\n"
    )
    assert ("cholesterol/hdl ratio", "5.0", None) in _valued(gloss) or (
        "total cholesterol/hdl ratio",
        "5.0",
        None,
    ) in _valued(gloss)
    heading = "URINE / URINE\nAlbumin, random urine               31.5        mg/L\n"
    assert {v for _, v, _ in _valued(heading)} == {"31.5"}


def test_a_portal_label_line_between_name_and_value_is_skipped_never_read() -> None:
    portal = "Hemoglobin A1C\nNormal range: 4.0 - 5.6 %\nValue\n7.2 %\nHigh\n"
    assert _valued(portal) == {("hemoglobin a1c", "7.2", "%")}
    # no value line after the range: the range is no value
    assert _valued("Hemoglobin A1C\nNormal range: 4.0 - 5.6 %\nPending\n") == set()


def test_a_keyed_result_on_the_line_below_its_key() -> None:
    block = "Test: Ferritin\nResult:\n22 H ng/mL\nReference Range: 30-400\n"
    assert _valued(block) == {("ferritin", "22", "ng/mL")}
    # an empty result with a key line below: no value (the reference range is not one)
    assert _valued("Test: Ferritin\nResult:\nReference Range: 30-400\n") == set()


def test_ocr_rn_for_m_in_a_lab_name_only() -> None:
    assert _valued("Potassiurn   4.1   mmol/L   3.5-5.1") == {("potassium", "4.1", "mmol/L")}
    # an ordinary word with "rn" is left as written
    facts = extract("Return in 3 weeks; pattern of morning glucose 104 mg/dL.", today=TODAY).facts
    assert {(f.concept, f.value) for f in facts if f.kind == "lab"} == {("glucose", "104")}


def test_ocr_lower_case_l_opening_a_number() -> None:
    assert repair_ocr_digits("G1ucose   l05 H  mg/dL") == "G1ucose   105 H  mg/dL"
    assert repair_ocr_digits("disc bulge at l4-l5 and l5-s1") == "disc bulge at l4-l5 and l5-s1"


def test_a_uk_term_with_estimation_before_the_value() -> None:
    assert _valued("Haemoglobin estimation 124 g/L     [130.0 - 180.0]") == {("hemoglobin", "124", "g/L")}


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        # a count per microlitre in any of its written forms is read, as written, in cells/uL
        ("WBC 11,200/uL", {("white blood cell count", "11200", "cells/uL")}),
        ("TLC 8,600 cells/cumm", {("white blood cell count", "8600", "cells/uL")}),
        ("Plaquetas ....: 245.000 /mm³    150.000 a 450.000", {("platelet count", "245.000", "cells/uL")}),
        ("ANC 3,584 cells/uL", {("absolute neutrophil count", "3584", "cells/uL")}),
        ("WBC 7.2 x10^9/L", {("white blood cell count", "7.2", "10*3/uL")}),
        # an implausible count for its unit is no value (7.2 per microlitre is no white count)
        ("WBC 7.2 /uL", set()),
        # a rate or a date after a slash stays no unit
        ("Glucose checks 2/week", set()),
    ],
)
def test_a_count_per_microlitre_in_any_written_form(row: str, expected: set[tuple[str, str, str]]) -> None:
    assert _valued(row) == expected


# ---- A second set of common layouts.

HOSPITAL_UNIT_BEFORE_FLAG = """Chemistry
Collected Date/Time   11/27/2026 06:15 CST
Sodium Lvl            131 mmol/L (L)        [136-145]
Potassium Lvl         5.9 mmol/L (H)        [3.5-5.1]
Glucose Random        212 mg/dL (H)         [70-99]
BUN                   38 mg/dL (H)          [7-20]
Creatinine            2.1 mg/dL (H)         [0.7-1.3]
Magnesium Lvl         1.6 mg/dL             [1.6-2.6]
"""

LIS_MNEMONICS_BRACKETED_RANGES = """Test            Result    Flag  Reference   Units
--------------------------------------------------
NA              137             (136-145)   mmol/L
K               3.2       L     (3.5-5.1)   mmol/L
CL              99              (98-107)    mmol/L
CO2             24              (21-32)     mmol/L
BUN             18              (7-18)      mg/dL
CREAT           1.1             (0.6-1.3)   mg/dL
GLU             145       H     (70-110)    mg/dL
CA              8.2       L     (8.5-10.1)  mg/dL
"""

CURRENT_AND_PREVIOUS_DATED_COLUMNS = """Test               Current    Previous    Units     Range
                   11/20/26   08/14/26
Hemoglobin         10.9 L     12.4        g/dL      12.0-16.0
Ferritin           9 L        15          ng/mL     15-150
TSH                2.31       2.02        mIU/L     0.40-4.50
"""

PROSE_GLUED_UNITS_AND_COMPARATORS = """Results: Hb 13.2g/dL, WBC 11,200/uL, Platelets 245,000/uL,
Ferritin 12ng/mL,
CRP < 1.0 mg/L, eGFR > 90 mL/min/1.73m2, Potassium (3.5-5.1) 5.9 mmol/L.
"""

OCR_TABLE_BORDERS = """| Test | Result | Units | Reference |
| Sodium | 139 | mmol/L | 135-145 |
| Potassium | 4.4 | mmol/L | 3.5-5.1 |
| Hemoglobin A1c | 6.9 H | % | 4.0-5.6 |
Sodium l 139 l mmol/L l 135-145
"""

OCR_RAGGED_COLON_COLUMNS = """LIPID PROFILE
Total Cholesterol      :    245    mg/dl      < 200
Triglycerides :  188 mg/dl      <150
HDL Cholesterol            :   38  mg/dl   >40
LDL Cholesterol (Calc)  :  169   mg/dl     <130
VLDL                    :  37.6  mg/dl     <30
"""

UK_HOSPITAL_PATHOLOGY = """Pathology Report - Clinical Biochemistry
Specimen: Blood   Received: 26.11.2026
Test                 Result    Units        Reference range
Sodium               138       mmol/L       133 - 146
Potassium            5.6 H     mmol/L       3.5 - 5.3
eGFR                 >90       mL/min/1.73m2
Alanine transaminase 64 H      IU/L         0 - 41
Total protein        71        g/L          60 - 80
Albumin              41        g/L          35 - 50
Ferritin             14 L      ug/L         30 - 400
Vitamin B12          180 L     ng/L         197 - 771
Folate               3.1 L     ug/L         >3.9
"""

CBC_WITH_ABSOLUTE_DIFFERENTIAL = """COMPLETE BLOOD COUNT
WBC                 11.8  H   x10E3/uL    3.4-10.8
RBC                 4.21      x10E6/uL    4.14-5.80
Hemoglobin          12.6  L   g/dL        13.0-17.7
Hematocrit          38.0      %           37.5-51.0
MCV                 90        fL          79-97
Platelets           412       x10E3/uL    150-450
Neutrophils         78    H   %           40-74
Lymphs              14        %           14-46
Neutrophils (Absolute)  9.2  H  x10E3/uL  1.4-7.0
Lymphs (Absolute)   1.7       x10E3/uL    0.7-3.1
"""


MORE_REPORTS = [
    pytest.param(
        HOSPITAL_UNIT_BEFORE_FLAG,
        {
            ("blood urea nitrogen", "38", "mg/dL"),
            ("creatinine", "2.1", "mg/dL"),
            ("glucose", "212", "mg/dL"),
            ("magnesium", "1.6", "mg/dL"),
            ("potassium", "5.9", "mmol/L"),
            ("sodium", "131", "mmol/L"),
        },
        id="cerner",
    ),
    pytest.param(
        LIS_MNEMONICS_BRACKETED_RANGES,
        {
            ("bicarbonate", "24", "mmol/L"),
            ("blood urea nitrogen", "18", "mg/dL"),
            ("calcium", "8.2", "mg/dL"),
            ("chloride", "99", "mmol/L"),
            ("creatinine", "1.1", "mg/dL"),
            ("glucose", "145", "mg/dL"),
            ("potassium", "3.2", "mmol/L"),
            ("sodium", "137", "mmol/L"),
        },
        id="meditech",
    ),
    pytest.param(
        CURRENT_AND_PREVIOUS_DATED_COLUMNS,
        {
            ("ferritin", "9", "ng/mL"),
            ("hemoglobin", "10.9", "g/dL"),
            ("thyroid stimulating hormone", "2.31", "mIU/L"),
        },
        id="prev_col",
    ),
    pytest.param(
        PROSE_GLUED_UNITS_AND_COMPARATORS,
        {
            ("c-reactive protein", "<1.0", "mg/L"),
            ("egfr", ">90", "mL/min/1.73m2"),
            ("ferritin", "12", "ng/mL"),
            ("hemoglobin", "13.2", "g/dL"),
            ("platelet count", "245000", "cells/uL"),
            ("potassium", "5.9", "mmol/L"),
            ("white blood cell count", "11200", "cells/uL"),
        },
        id="glued_units",
    ),
    pytest.param(
        OCR_TABLE_BORDERS,
        {
            ("hemoglobin a1c", "6.9", "%"),
            ("potassium", "4.4", "mmol/L"),
            ("sodium", "139", "mmol/L"),
        },
        id="ocr_pipes",
    ),
    pytest.param(
        OCR_RAGGED_COLON_COLUMNS,
        {
            ("hdl cholesterol", "38", "mg/dL"),
            ("ldl cholesterol", "169", "mg/dL"),
            ("total cholesterol", "245", "mg/dL"),
            ("triglycerides", "188", "mg/dL"),
            ("vldl cholesterol", "37.6", "mg/dL"),
        },
        id="ocr_ragged",
    ),
    pytest.param(
        UK_HOSPITAL_PATHOLOGY,
        {
            ("alanine aminotransferase", "64", "U/L"),
            ("albumin", "41", "g/L"),
            ("egfr", ">90", "mL/min/1.73m2"),
            ("ferritin", "14", "ug/L"),
            ("folate", "3.1", "ug/L"),
            ("potassium", "5.6", "mmol/L"),
            ("sodium", "138", "mmol/L"),
            ("total protein", "71", "g/L"),
            ("vitamin b12", "180", "ng/L"),
        },
        id="nhs_pathology",
    ),
    pytest.param(
        CBC_WITH_ABSOLUTE_DIFFERENTIAL,
        {
            ("absolute lymphocyte count", "1.7", "10*3/uL"),
            ("absolute neutrophil count", "9.2", "10*3/uL"),
            ("hematocrit", "38.0", "%"),
            ("hemoglobin", "12.6", "g/dL"),
            ("lymphocytes percent", "14", "%"),
            ("mean corpuscular volume", "90", "fL"),
            ("neutrophils percent", "78", "%"),
            ("platelet count", "412", "10*3/uL"),
            ("red blood cell count", "4.21", "10*6/uL"),
            ("white blood cell count", "11.8", "10*3/uL"),
        },
        id="cbc_diff",
    ),
]


def test_a_date_column_headed_previous_is_no_result() -> None:
    table = (
        "Test               Current    Previous    Units     Range\n"
        "                   11/20/26   08/14/26\n"
        "Hemoglobin         10.9 L     12.4        g/dL      12.0-16.0\n"
    )
    assert _valued(table) == {("hemoglobin", "10.9", "g/dL")}
    # two dated columns without such a heading: both are results (a cumulative table)
    cumulative = (
        "Test               11/20/26   08/14/26   Units\nHemoglobin         10.9       12.4       g/dL\n"
    )
    assert _valued(cumulative) == {("hemoglobin", "10.9", "g/dL"), ("hemoglobin", "12.4", "g/dL")}


def test_lvl_is_level_and_uk_transaminase_names() -> None:
    assert _valued("Magnesium Lvl         1.6 mg/dL    [1.6-2.6]") == {("magnesium", "1.6", "mg/dL")}
    assert _valued("Alanine transaminase 64 H  IU/L  0 - 41") == {("alanine aminotransferase", "64", "U/L")}


# ---- A lab's results forwarded as a raw e-mail (quoted-printable, reply quote marks).

FORWARDED_EMAIL = """From: Front Desk <frontdesk@example.test>
Subject: Fwd: results
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: quoted-printable

Please file before her visit. She has been on metformin 500 mg since Jan=
uary.

-----Original Message-----
> BASIC METABOLIC PANEL
> Glucose ........ 131 mg/dL  H   (65=E2=80=9399)
> Potassium ...... 4.2 mmol/L     (3.5=E2=80=935.3)
> eGFR ........... 69 mL/min/1.73m2  (> OR =3D 60)
> Microalb/Creat Ratio ......... 30 mg/g creat  (<30)
> Note: 30-300 mg/g creat =3D moderately increased albuminuria.
"""


def test_a_quoted_printable_email_is_decoded_and_its_spans_map_back() -> None:
    facts = [f for f in extract(FORWARDED_EMAIL, today=TODAY).facts if f.kind == "lab" and f.value]
    assert {(f.concept, f.value) for f in facts} == {
        ("glucose", "131"),
        ("potassium", "4.2"),
        ("egfr", "69"),
        ("urine albumin-creatinine ratio", "30"),
    }
    for fact in facts:  # each span is on the printed name
        assert FORWARDED_EMAIL[fact.start : fact.end].split()[0] in {
            "Glucose",
            "Potassium",
            "eGFR",
            "Microalb/Creat",
        }


def test_no_email_no_decoding() -> None:
    from medupload.pipeline.email_text import plain_email

    text = "Glucose 131 mg/dL =3D high\n> 90 eGFR\n"
    assert plain_email(text) == (text, [])
    # in an e-mail, a ">" before a number is a comparator and stays
    mail = "From: a@b.test\nSubject: x\n\n> Glucose 131\n>90\n"
    assert plain_email(mail)[0] == "From: a@b.test\nSubject: x\n\n  Glucose 131\n>90\n"


def test_polish_names_of_common_tests() -> None:
    report = (
        "Żelazo (O35)                             38    L     µg/dl         50 - 170\n"
        "Kreatynina (M37)                         0,78        mg/dl         0,50 - 0,90\n"
        "Potas                                    4,4         mmol/l        3,5 - 5,1\n"
    )
    assert _valued(report) == {
        ("iron", "38", "ug/dL"),
        ("creatinine", "0.78", "mg/dL"),
        ("potassium", "4.4", "mmol/L"),
    }


# ---- A third set: previous-result columns, flags as arrows, no-result words, page furniture,
# OCR digit slips, a range before the value, a UK letter whose SI units go unwritten.

LABCORP_PREVIOUS_RESULT_COLUMN = """\
Tests                       Result     Flag   Units     Reference Interval   Previous Result and Date
Glucose 01                  104        High   mg/dL     70-99                98    08/14/2026
Creatinine 01               0.92              mg/dL     0.76-1.27            0.88  08/14/2026
Hemoglobin A1c 02           6.1        High   %         4.8-5.6              5.9   08/14/2026
"""

ARROW_AND_BANG_FLAGS = """Glucose            118 ↑    mg/dL     70-99
Potassium          6.8 !!   mmol/L    3.5-5.1
Sodium             129 ↓    mmol/L    135-145
Hemoglobin :13.2 g/dL
Ferritin:8ng/mL (L)
"""

NO_RESULT_WORDS = """Test               Result        Units     Reference
Vitamin B12        Pending       ng/L      197-771
Folate             See note      ug/L      >3.9
Ferritin           TNP           ug/L      30-400
Magnesium          Hemolyzed     mmol/L    0.70-1.00
TSH                QNS           mIU/L     0.27-4.20
Potassium          4.4           mmol/L    3.5-5.3
"""

PAGE_FOOTER_AND_HEADER_MID_TABLE = """Test                 Result   Units    Ref range
Sodium               139      mmol/L   135-145
Potassium            4.0      mmol/L   3.5-5.1
Continued on next page
Printed: 11/28/2026 14:02    Page 1 of 2
Patient: [REDACTED]   DOB: 02/14/1958   MRN: 00123456   Age: 68
Test                 Result   Units    Ref range
Chloride             101      mmol/L   98-107
Urea                 6.2      mmol/L   2.5-7.8
"""

OCR_DIGIT_SLIPS = """Hemoglobin    13 .2   g/dL   12.0-16.0
Creatinine    0,9l  mg/dL   0.6-1.1
WBC          6.4O   10^3/uL 4.0-11.0
Sodium      l38    mmol/L  135-145
TSH   2.4S   mIU/L  0.4-4.0
"""

RANGE_BEFORE_THE_VALUE = """Glucose (70-99 mg/dL): 104 H
Potassium [3.5-5.1]: 5.2 mmol/L
ALT (0-40 U/L) 55
"""

UK_GP_LETTER_SI_UNITS_UNWRITTEN = """Recent results:
Hb 124 g/L (L), WCC 7.2, Plt 301, Na 138, K 5.6 (H), Urea 7.9, Creat 112, eGFR 58, HbA1c 52 mmol/mol,
TSH 3.1, FT4 14.2, Ferritin 18, B12 260, Folate 4.1, CRP <5, ALT 64, ALP 88, Bili 9.
"""


THIRD_REPORTS = [
    pytest.param(
        LABCORP_PREVIOUS_RESULT_COLUMN,
        {
            ("creatinine", "0.92", "mg/dL"),
            ("glucose", "104", "mg/dL"),
            ("hemoglobin a1c", "6.1", "%"),
        },
        id="labcorp_prev",
    ),
    pytest.param(
        ARROW_AND_BANG_FLAGS,
        {
            ("ferritin", "8", "ng/mL"),
            ("glucose", "118", "mg/dL"),
            ("hemoglobin", "13.2", "g/dL"),
            ("potassium", "6.8", "mmol/L"),
            ("sodium", "129", "mmol/L"),
        },
        id="arrows",
    ),
    pytest.param(
        NO_RESULT_WORDS,
        {
            ("potassium", "4.4", "mmol/L"),
        },
        id="pending",
    ),
    pytest.param(
        PAGE_FOOTER_AND_HEADER_MID_TABLE,
        {
            ("chloride", "101", "mmol/L"),
            ("potassium", "4.0", "mmol/L"),
            ("sodium", "139", "mmol/L"),
            ("urea", "6.2", "mmol/L"),
        },
        id="footer",
    ),
    pytest.param(
        OCR_DIGIT_SLIPS,
        {
            ("creatinine", "0.91", "mg/dL"),
            ("hemoglobin", "13.2", "g/dL"),
            ("sodium", "138", "mmol/L"),
            ("thyroid stimulating hormone", "2.45", "mIU/L"),
            ("white blood cell count", "6.40", "10*3/uL"),
        },
        id="ocr_slips",
    ),
    pytest.param(
        RANGE_BEFORE_THE_VALUE,
        {
            ("alanine aminotransferase", "55", "U/L"),
            ("glucose", "104", "mg/dL"),
            ("potassium", "5.2", "mmol/L"),
        },
        id="range_first",
    ),
    pytest.param(
        UK_GP_LETTER_SI_UNITS_UNWRITTEN,
        {
            ("alanine aminotransferase", "64", "U/L"),
            ("alkaline phosphatase", "88", "U/L"),
            ("c-reactive protein", "<5", "mg/L"),
            ("creatinine", "112", "umol/L"),
            ("egfr", "58", "mL/min/1.73m2"),
            ("ferritin", "18", "ng/mL"),
            ("folate", "4.1", "ng/mL"),
            ("free thyroxine", "14.2", "pmol/L"),
            ("hemoglobin", "124", "g/L"),
            ("hemoglobin a1c", "52", "mmol/mol"),
            ("platelet count", "301", "10*3/uL"),
            ("potassium", "5.6", "mmol/L"),
            ("sodium", "138", "mmol/L"),
            ("thyroid stimulating hormone", "3.1", "mIU/L"),
            ("total bilirubin", "9", "mg/dL"),
            ("urea", "7.9", "mmol/L"),
            ("vitamin b12", "260", "pg/mL"),
            ("white blood cell count", "7.2", "10*3/uL"),
        },
        id="uk_gp_letter",
    ),
]


def test_a_bare_number_takes_an_si_unit_only_right_after_its_name() -> None:
    assert _valued("Creat 112, Hb 124") == {("creatinine", "112", "umol/L"), ("hemoglobin", "124", "g/L")}
    # after words, an implausible bare number stays no value ("from 5.4" is the earlier value)
    assert _valued("Her protein intake is supposed to be about 25.") == set()
    assert _valued("Creatinine 1.1") == {("creatinine", "1.1", "mg/dL")}  # plausible as written


def test_ocr_spaced_decimal_and_letters_ending_a_number() -> None:
    assert repair_ocr_digits("Hemoglobin    13 .2   g/dL") == "Hemoglobin    13.2    g/dL"
    assert repair_ocr_digits("WBC 6.4O  TSH 2.4S  Cr 0,9l  mg/dL") == "WBC 6.40  TSH 2.45  Cr 0,91  mg/dL"
    # litres stay litres, a sentence's full stop stays
    assert repair_ocr_digits("drank 2.5l water; vitamin D3 .") == "drank 2.5l water; vitamin D3 ."


def test_a_differential_with_percent_and_count_columns_headed_by_units() -> None:
    table = (
        "FORMULA LEUCOCITARIA                %         x10^3/uL     Referencia\n"
        "Neutrófilos                         62.1      4.10         1.80 - 7.70\n"
        "Linfocitos                          28.4      1.87         1.00 - 4.80\n"
    )
    assert _valued(table) == {
        ("neutrophils percent", "62.1", "%"),
        ("absolute neutrophil count", "4.10", "10*3/uL"),
        ("lymphocytes percent", "28.4", "%"),
        ("absolute lymphocyte count", "1.87", "10*3/uL"),
    }
    # the second column headed by no unit (an earlier result): no count is read from it
    previous = (
        "DIFFERENTIAL                        %         Previous\n"
        "Neutrophils                         62.1      58.0\n"
    )
    assert _valued(previous) == {("neutrophils percent", "62.1", "%")}


def test_a_colon_glued_between_name_and_value() -> None:
    assert _valued("Ferritin:8ng/mL (L)") == {("ferritin", "8", "ng/mL")}
    # a ratio or a time keeps its colon (a digit before it)
    assert _valued("ANA titre 1:160 at 10:30") == {("antinuclear antibody", "1:160", None)}


# One test over the three sets of whole reports (each case keeps its id).
@pytest.mark.parametrize(("report", "expected"), REPORTS + MORE_REPORTS + THIRD_REPORTS)
def test_every_value_of_a_common_report_and_nothing_else(
    report: str, expected: set[tuple[str, str, str]]
) -> None:
    assert _valued(report) == expected

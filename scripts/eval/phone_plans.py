#!/usr/bin/env python3
"""Writes guest-sdk/data/phone/plans.tsv: for every region in the metadata of Google's
libphonenumber (as shipped by the `phonenumbers` package, Apache-2.0), the country
calling code, the national (trunk) prefix, the possible lengths of a national number
and the pattern a national number must match (the metadata's general description).

    python3 -m pip install phonenumbers==9.0.43
    python3 scripts/eval/phone_plans.py

The detectors read this table to check a candidate number's length and leading
digits; nothing else of libphonenumber is used.
"""
import pathlib

import phonenumbers
from phonenumbers import PhoneMetadata

OUT = pathlib.Path(__file__).resolve().parents[2] / "guest-sdk/data/phone/plans.tsv"


def main() -> None:
    rows = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        m = PhoneMetadata.metadata_for_region(region)
        g = m.general_desc
        if g is None or not g.national_number_pattern:
            continue
        lengths = ",".join(str(n) for n in sorted(g.possible_length or ()))
        rows.append(
            "\t".join(
                [
                    region,
                    str(m.country_code),
                    m.national_prefix or "",
                    lengths,
                    g.national_number_pattern,
                ]
            )
        )
    header = (
        "# region\tcountry code\tnational prefix\tpossible lengths\tnational number pattern\n"
        f"# from libphonenumber metadata via phonenumbers {phonenumbers.__version__} (Apache-2.0); "
        "see guest-sdk/src/detect/SOURCES.md\n"
    )
    OUT.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(rows)} regions")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes the word lists the person-name and street-address detectors use:

- guest-sdk/data/names/given.txt: given names from the 1990 US Census name files
  (public domain; as shipped in the `names` package, MIT), lower case, one a line.
- guest-sdk/data/names/surnames.txt: the 20,000 most frequent surnames of the same
  census.
- guest-sdk/data/addresses/street_types.txt: street suffixes and their abbreviations
  from USPS Publication 28, Appendix C1 (public domain; as listed in the
  `usaddress-scourgify` package, MIT), plus UK, German, French and Chinese street
  types (common nouns).

    python3 -m pip install names==0.3.0 usaddress-scourgify==0.7.1
    python3 scripts/eval/word_lists.py

These are the "learn" sources of the person detectors: the evaluation set
(scripts/eval/make_eval.py) draws its names and addresses from Faker, never from
these lists.
"""
import pathlib

import names as names_pkg
from scourgify import address_constants as usps

ROOT = pathlib.Path(__file__).resolve().parents[2] / "guest-sdk/data"
CENSUS = pathlib.Path(names_pkg.__file__).parent
SURNAMES = 20000


def census(file: str) -> list[str]:
    out = []
    for line in (CENSUS / file).read_text().splitlines():
        parts = line.split()
        if parts:
            out.append(parts[0].lower())
    return out


# Street types of other countries: common nouns of their address styles.
UK_TYPES = [
    "close", "mews", "rise", "row", "walk", "gate", "green", "vale", "view", "wharf",
    "yard", "parade", "crescent", "terrace", "gardens", "grove", "hill", "lane", "approach",
    "chase", "croft", "fold", "wynd",
]
DE_TYPES = [
    "straße", "strasse", "str.", "weg", "allee", "platz", "gasse", "ring", "damm", "ufer",
    "chaussee", "pfad", "steig", "markt", "hof", "berg", "graben", "kamp", "stieg", "wall",
    "zeile", "promenade", "brücke", "tor", "anger", "garten",
]
FR_TYPES = [
    "rue", "avenue", "av.", "boulevard", "bd", "bd.", "place", "chemin", "impasse", "allée",
    "quai", "route", "cours", "square", "passage", "villa", "cité", "sentier", "rond-point",
    "esplanade", "promenade", "faubourg", "hameau", "lieu-dit", "voie", "rampe", "parvis",
]
ES_PT_IT_TYPES = [
    "calle", "avenida", "av.", "paseo", "plaza", "camino", "carrera", "rua", "travessa",
    "praça", "alameda", "estrada", "rodovia", "via", "viale", "piazza", "corso", "vicolo",
    "largo", "praia", "colônia", "vila", "ladeira", "setor", "quadra",
]
CN_TYPES = ["路", "街", "大道", "大街", "巷", "弄", "道", "胡同", "里"]


def main() -> None:
    given = sorted(set(census("dist.male.first") + census("dist.female.first")))
    surnames = census("dist.all.last")[:SURNAMES]
    (ROOT / "names").mkdir(parents=True, exist_ok=True)
    (ROOT / "addresses").mkdir(parents=True, exist_ok=True)
    (ROOT / "names/given.txt").write_text("\n".join(given) + "\n", encoding="utf-8")
    (ROOT / "names/surnames.txt").write_text("\n".join(sorted(set(surnames))) + "\n", encoding="utf-8")
    types = set()
    for k, v in usps.STREET_TYPE_ABBREVIATIONS.items():
        types.add(k.lower())
        types.add(v.lower())
    for k, v in usps.LONGHAND_STREET_TYPES.items():
        types.add(k.lower())
        types.add(v.lower())
    types.update(UK_TYPES + DE_TYPES + FR_TYPES + ES_PT_IT_TYPES + CN_TYPES)
    (ROOT / "addresses/street_types.txt").write_text(
        "\n".join(sorted(t for t in types if t)) + "\n", encoding="utf-8"
    )
    units = set()
    for k, v in usps.OCCUPANCY_TYPE_ABBREVIATIONS.items():
        units.add(k.lower())
        units.add(v.lower())
    units.update(["flat", "apt", "apartment", "suite", "unit", "floor", "room", "bldg", "building",
                  "etage", "étage", "appartement", "bâtiment", "wohnung", "whg."])
    (ROOT / "addresses/unit_types.txt").write_text("\n".join(sorted(units)) + "\n", encoding="utf-8")
    print(len(given), "given names,", len(set(surnames)), "surnames,", len(types), "street types,", len(units), "unit types")


if __name__ == "__main__":
    main()

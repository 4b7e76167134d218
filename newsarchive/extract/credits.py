"""Photo credits: split a printed credit into photographer and agency, and find
credits embedded at the end of a caption ("... (AP Photo/Evan Vucci)")."""

from __future__ import annotations

import re

from newsarchive.processors import clean_credit, clean_line

#: Agencies and picture desks, lower-case → printed form.
AGENCIES = {
    "reuters": "Reuters",
    "ap": "AP",
    "ap photo": "AP",
    "ap photos": "AP",
    "associated press": "AP",
    "the associated press": "AP",
    "afp": "AFP",
    "afp photo": "AFP",
    "agence france-presse": "AFP",
    "getty": "Getty Images",
    "getty images": "Getty Images",
    "gettyimages": "Getty Images",
    "epa": "EPA",
    "epa-efe": "EPA-EFE",
    "efe": "EFE",
    "pa": "PA",
    "pa wire": "PA",
    "pa images": "PA",
    "pa media": "PA",
    "pa archive": "PA",
    "bloomberg": "Bloomberg",
    "shutterstock": "Shutterstock",
    "rex": "Shutterstock",
    "rex features": "Shutterstock",
    "alamy": "Alamy",
    "alamy stock photo": "Alamy",
    "istock": "iStock",
    "istockphoto": "iStock",
    "anadolu": "Anadolu",
    "anadolu agency": "Anadolu",
    "xinhua": "Xinhua",
    "sipa": "Sipa",
    "sipa usa": "Sipa USA",
    "zuma": "ZUMA",
    "zuma press": "ZUMA",
    "zuma wire": "ZUMA",
    "dpa": "dpa",
    "ansa": "ANSA",
    "kyodo": "Kyodo",
    "aap": "AAP",
    "nurphoto": "NurPhoto",
    "sopa images": "SOPA Images",
    "lightrocket": "LightRocket",
    "corbis": "Corbis",
    "wireimage": "WireImage",
    "filmmagic": "FilmMagic",
    "redux": "Redux",
    "pool": "Pool",
    "tass": "TASS",
    "ria novosti": "RIA Novosti",
    "imago": "IMAGO",
    "picture alliance": "picture alliance",
    "picture-alliance": "picture alliance",
    "abaca": "ABACA",
    "upi": "UPI",
    "newscom": "Newscom",
    "the new york times": "The New York Times",
    "nyt": "The New York Times",
    "the washington post": "The Washington Post",
    "cq roll call": "CQ Roll Call",
    "nasa": "NASA",
    "handout": "Handout",
    "courtesy": "Courtesy",
    "stock.adobe.com": "Adobe Stock",
    "adobe stock": "Adobe Stock",
    "unsplash": "Unsplash",
    "wikimedia commons": "Wikimedia Commons",
}
_ORG_WORDS = re.compile(
    r"\b(images?|photos?|pictures?|press|agency|news|wire|media|stock|archive|library|handout|pool|"
    r"studios?|productions?|pictures|foundation|museum|university|institute|ministry|office|police|"
    r"department|government|council|collection|times|post|journal|telegraph|guardian|standard|"
    r"inc|ltd|llc|tv|network|group|company|club|fc|project|commons|court|district|state|city|county|"
    r"committee|party|campaign|association|federation|embassy|army|navy|service|hospital|school)\b",
    re.I,
)
_NAME = re.compile(
    r"^(?:[A-Z\u00c0-\u024f][\w'’.\-]*\.?|de|da|van|von|der|del|la|le|di|bin|al)"
    r"(?:\s+(?:[A-Z\u00c0-\u024f][\w'’.\-]*\.?|de|da|van|von|der|del|la|le|di|bin|al)){1,4}$"
)
_SPLIT = re.compile(r"\s*(?:/|\bvia\b|;|\||,|\bfor\b)\s*", re.I)


def _agency(part: str) -> str | None:
    key = re.sub(r"\s+", " ", part.strip(" .").lower())
    if key in AGENCIES:
        return AGENCIES[key]
    key2 = re.sub(r"\b(photos?|images?|pictures?)$", "", key).strip()
    if key2 in AGENCIES:
        return AGENCIES[key2]
    return None


def looks_like_person(part: str) -> bool:
    part = part.strip()
    if not _NAME.match(part) or _ORG_WORDS.search(part) or _agency(part):
        return False
    return 2 <= len(part.split()) <= 5 and not part.isupper()


def parse_credit(text: str | None) -> tuple[str | None, str | None]:
    """Split a printed credit into (photographer, agency).

    >>> parse_credit("REUTERS/Leah Millis")
    ('Leah Millis', 'Reuters')
    >>> parse_credit("AP Photo/Evan Vucci")
    ('Evan Vucci', 'AP')
    >>> parse_credit("Getty Images")
    (None, 'Getty Images')
    """
    credit = tidy_credit(text)
    if not credit:
        return None, None
    credit = re.sub(r"^(?:©|\(c\)|copyright)\s*", "", credit, flags=re.I).strip()
    credit = re.sub(r"^\d{4}\s+", "", credit)  # "© 2024 Reuters"
    parts = [p.strip(" .-–—()") for p in _SPLIT.split(credit) if p and p.strip(" .-–—()")]
    via = re.split(r"\s+via\s+", credit, maxsplit=1, flags=re.I)
    if len(via) == 2 and _agency(via[1].strip(" .()")):  # "X via Getty Images": the distributor
        parts = [p for p in parts if p.strip() != via[1].strip(" .()")]
        parts.insert(0, via[1].strip(" .()"))
    photographer = agency = None
    others: list[str] = []
    for part in parts:
        known = _agency(part)
        if known:
            agency = agency or known
        elif looks_like_person(part):
            photographer = photographer or part
        else:
            others.append(part)
    if agency is None and others:
        agency = (
            others[0]
            if (photographer or len(others) == 1 or not _looks_nameish(others[0]))
            else None
        )
    if photographer is None and agency is None:
        agency = credit
    return clean_line(photographer), clean_line(agency)


def _looks_nameish(part: str) -> bool:
    return bool(_NAME.match(part))


#: Words that introduce a printed credit, in the languages of the dev sets and beyond
#: ("Foto:", "Bildquelle:", "Fotografía:", "写真：", "사진 출처 =", "Isithombe:").
_PREFIX = (
    r"(?:(?:photo|image|picture)\s*credits?|credits?|cr[ée]dits?(?:\s*photo)?|photo(?:graph)?s?|images?|"
    r"pictures?|sources?|fotos?|bild(?:quelle)?|quelle|fuente|fotograf[íi]a|imagen|foto\s*(?:e\s*)?video|"
    r"illustration|grafik|kuva|zdj[eę]cie|fotó|fotoğraf|kaynak|фото|写真|画像|사진(?:\s*출처)?|출처|"
    r"isithombe|setšwantšho|foto\s*credit)"
)
_SEP = r"\s*[:=：]\s*"
#: "（Ｃ）", "(c)", "©": a copyright sign before the holder
_COPYRIGHT = r"(?:©|\([cC]\)|（[cCｃＣ]）)"
# "... text. (AP Photo/Evan Vucci)", "... (Image: Getty)", "... Photo: Jane Doe/Reuters", "... © Reuters"
_TRAILING = [
    re.compile(
        r"\s*[\(\[（【]\s*((?:AP|AFP|Reuters|REUTERS|EPA|Getty|PA|Photo|Picture|Image|Credit|Foto|Source|©)"
        r"[^()\[\]（）【】]{0,120})[\)\]）】]\s*$"
    ),
    re.compile(
        r"\s*[\(\[（【]\s*" + _PREFIX + _SEP + r"([^()\[\]（）【】]{1,120})[\)\]）】]\s*$", re.I
    ),
    re.compile(r"\s*[\(\[]\s*([^()\[\]]{2,80}/[^()\[\]]{2,80})[\)\]]\s*$"),
    re.compile(r"(?:^|\s+|(?<=[.!?,。]))(" + _PREFIX + _SEP + r"[^:：]{1,160})$", re.I),
    re.compile(r"\s*(" + _COPYRIGHT + r"\s*[^©]{2,120})$"),
    re.compile(r"(?<=[.!?])\s+((?:REUTERS|AP Photo|AFP|EPA|Getty Images)\s*/\s*[^.]{2,80})$"),
    re.compile(
        r"(?<=[.!?”\"])\s+([A-Z][^.]{1,60}/(?:Getty Images|Reuters|AP|AFP|EPA|PA|Shutterstock|Alamy|Bloomberg)[^.]{0,40})$"
    ),
    # Japanese: "…（共同）", "…（山田太郎撮影）", "…＝山田太郎撮影"
    re.compile(r"[（(]([^（）()]{1,30}?)撮影[)）]\s*$"),
    re.compile(r"[＝=]\s*([^＝=、。]{1,30}?)撮影\s*$"),
]
#: after the caption's last sentence: a bare "(Name)" or a short name/agency ("… the lobby. Supplied")
_AFTER_SENTENCE = [
    re.compile(r"\s+\|\s+([^|]{2,100})$"),  # "… Higgins. | Niall Carson/PA Images via Getty Images"
    re.compile(r"(?<=[.!?。])\s*\(([A-Z\u00c0-\u024f][^()]{1,60}[^.!?()])\)\s*$"),
    re.compile(
        r"(?<=[.!?])\s+([A-Z\u00c0-\u024f][\w'’\-]*(?:[ /][A-Z\u00c0-\u024f&][\w'’\-.]*){0,3})$"
    ),
]
#: fewest words a caption keeps before a credit that follows its last sentence
_MIN_CAPTION_WORDS = 3
#: boilerplate printed with a credit, never part of it
_BOILERPLATE = re.compile(
    r"\s*(?:/|\||,|;|-)?\s*(?:copyright\s+)?(?:©\s*)?(?:\d{4}\s+)?(?:[^/|,;]{0,40}\.\s*)?"
    r"(?:all rights reserved|alle rechte vorbehalten|tous droits réservés|todos los derechos reservados|"
    r"tutti i diritti riservati)\.?\s*$",
    re.I,
)
#: a credit made of a button's label or a page's date line, not a source
_NOT_CREDIT = re.compile(
    r"^(?:show more|show less|read more|mehr anzeigen|mehr|weniger|expand|collapse|zoom|vergrößern|"
    r"enlarge|close|schließen|stand|updated|aktualisiert|mis à jour|actualizado)\b",
    re.I,
)
#: a date or time in a line: "Stand: 24.04.2024 22:58 Uhr"
_DATE_LINE = re.compile(r"\b\d{1,2}[./]\d{1,2}[./]\d{2,4}\b.*\b\d{1,2}:\d{2}\b")


#: one-word credits that name no one: "Supplied", "Handout", "Archiv"
_SOURCE_WORDS = {
    "supplied",
    "handout",
    "courtesy",
    "archive",
    "archiv",
    "archivo",
    "archives",
    "privat",
    "private",
    "file",
    "pool",
    "sourced",
    "screenshot",
    "screengrab",
}


def _credit_like(part: str) -> bool:
    """Could a short tail after the caption's last sentence be a credit?"""
    words = part.split()
    if _agency(part) or _ORG_WORDS.search(part):
        return True
    if len(words) == 1:
        return part.casefold() in _SOURCE_WORDS or (part.isupper() and len(part) >= 2)
    return "/" in part or looks_like_person(part)


#: most words of a caption line that is a credit only
_CREDIT_LINE_WORDS = 6


def _only_credit(text: str) -> bool:
    """A short line made of a known agency and names ("cristianstorto - stock.adobe.com")."""
    if len(text.split()) > _CREDIT_LINE_WORDS or _SENTENCE_END.search(text):
        return False
    parts = [p for p in re.split(r"\s+[-–—]\s+|" + _SPLIT.pattern, text) if p and p.strip()]
    others = [p.strip() for p in parts if not _agency(p)]
    return len(others) < len(parts) and all(
        len(p.split()) == 1 or looks_like_person(p) for p in others
    )


_SENTENCE_END = re.compile(r"[.!?。]$")


def tidy_credit(text: str | None) -> str | None:
    """A printed credit without prefixes, "All rights reserved" boilerplate, doubled halves
    ("X | X") or button labels; None when the text is not a credit at all."""
    credit = clean_credit(text)
    if not credit:
        return None
    credit = re.sub(r"^" + _PREFIX + _SEP, "", credit, flags=re.I)
    credit = re.sub(r"^" + _COPYRIGHT + r"\s*", "", credit)
    credit = re.sub(
        r"^(?:courtesy of|cortes[íi]a de|mit freundlicher genehmigung (?:von|der|des))\s+",
        "",
        credit,
        flags=re.I,
    )
    stripped = _BOILERPLATE.sub("", credit).strip(" /|,;-")
    credit = stripped or credit
    halves = [h.strip() for h in re.split(r"\s*\|\s*", credit)]
    if len(halves) == 2 and halves[0].casefold() == halves[1].casefold():
        credit = halves[0]
    if _NOT_CREDIT.match(credit) or _DATE_LINE.search(credit):
        return None
    return clean_credit(credit)


def split_caption_credit(caption: str | None) -> tuple[str | None, str | None]:
    """Separate a credit printed in a caption: returns (caption, credit).

    "Trump in Ohio. (AP Photo/Evan Vucci)" → ("Trump in Ohio.", "AP Photo/Evan Vucci");
    "Source: Repeat Project" → (None, "Repeat Project").
    """
    text = clean_line(caption)
    if not text:
        return None, None
    if text.startswith("(") and text.endswith(")") and len(text) < 100:  # "(The Independent)"
        return None, tidy_credit(text)
    for pattern in _TRAILING:
        m = pattern.search(text)
        if not m:
            continue
        credit = tidy_credit(m.group(1).strip(" ()[]"))
        if not credit:
            continue
        rest = text[: m.start()].strip(" ,;:-–—|") if m.start() > 0 else ""
        return (rest or None), credit
    if _only_credit(text):  # "cristianstorto - stock.adobe.com": the caption line is the credit
        return None, tidy_credit(text)
    for pattern in _AFTER_SENTENCE:
        m = pattern.search(text)
        if not m or len(text[: m.start()].split()) < _MIN_CAPTION_WORDS:
            continue
        candidate = m.group(1)
        if not _credit_like(candidate):
            continue
        credit = tidy_credit(candidate)
        if credit:
            return text[: m.start()].strip(), credit
    return text, None

"""Staff vocabulary: the words people use in chat, mapped onto the words policies use.

Staff write "FB", "wfh", "a parent", "my boss", "get sacked", "claim back my electric"; policies say
"Facebook", "working from home", "parents and carers", "manager", "dismissal", "expenses" and "utility bills".
Appending the formal words lets search meet the policy's register. Everything here is general school, council and
HR vocabulary, written without reference to any one document, so it serves whatever policies an organisation
loads; a corpus may add its own entries (``Vocabulary``, from corpus.toml ``[[vocabulary]]``), which count for
that corpus only. Entries never answer particular questions: each maps a word or phrase to terms appended.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["GENERAL", "Vocabulary", "expand", "normalise", "reading"]

# Abbreviations and chat spellings rewritten in place (so both indexes see the full words).
_REWRITE: dict[str, str] = {
    "fb": "Facebook",
    "facebk": "Facebook",
    "insta": "Instagram",
    "ig": "Instagram",
    "snap": "Snapchat",
    "tiktok": "TikTok",
    "tik tok": "TikTok",
    "whatsapp": "WhatsApp",
    "whats app": "WhatsApp",
    "linkedin": "LinkedIn",
    "yt": "YouTube",
    "x.com": "Twitter",
    "dm": "direct message",
    "dms": "direct messages",
    "dm'd": "messaged",
    "pm": "private message",
    "msg": "message",
    "msgs": "messages",
    "slt": "senior leadership team",
    "smt": "senior management team",
    "ht": "headteacher",
    "dht": "deputy headteacher",
    "hr": "HR",
    "ta": "teaching assistant",
    "tas": "teaching assistants",
    "la": "local authority",
    "pic": "picture",
    "pics": "pictures",
    "pfp": "profile picture",
    "ict": "ICT",
    "gdpr": "data protection GDPR",
    "wfh": "working from home",
    "hols": "holiday",
    "mat": "maternity",
    "pat": "paternity",
    "dbs": "DBS criminal record check",
    "dsl": "designated safeguarding lead DSL",
    "lado": "local authority designated officer LADO",
    "senco": "special educational needs coordinator SENCo",
    "ehcp": "education health and care plan",
    "ect": "early career teacher",
    "nqt": "newly qualified teacher",
    "inset": "INSET training day",
    "ppa": "planning preparation and assessment time",
    "cpd": "training professional development",
    "toil": "time off in lieu",
    "ot": "overtime",
    "mgr": "manager",
    "dept": "department",
    "govs": "governors",
    "pc": "computer",
    "usb": "USB memory stick",
    "a&e": "hospital",
    "asap": "as soon as possible",
    "u": "you",
    "ur": "your",
    "r": "are",
    "pls": "please",
    "plz": "please",
    "cos": "because",
    "coz": "because",
    "ppl": "people",
    "bf": "boyfriend",
    "gf": "girlfriend",
    "thx": "thanks",
}

# Concepts: a phrase found in the query appends the formal terms policies tend to use for it.
_GENERAL: tuple[tuple[str, str], ...] = (
    (r"\b(sack(ed|ing)?|fired|fire me|lose my job|get the boot|let go)\b", "dismissal disciplinary action"),
    (r"\b(in trouble|told off|disciplined|disciplinary|warning)\b", "disciplinary misconduct"),
    (r"\b(bully\w*|bullied|pick(ing|ed)? on|harass\w*|gang(ing)? up|belittl\w*)\b", "bullying harassment"),
    (r"\b(racis\w*|sexis\w*|homophob\w*|transphob\w*)\b", "discrimination harassment equality"),
    (r"\b(threat\w*|abus\w*|swore|swearing|shout\w*|scream\w*|aggressive|violen\w*|attack\w*|punch\w*)\b",
     "abuse aggression violence"),
    (r"\b(hurt|injur\w*|fell|fall(en)?|slipped|tripped|cut (my|his|her)|burn(t|ed)?|sprain\w*|broke (my|his|her))\b",
     "injury accident"),
    (r"\b(nearly|almost|could have been)\b", "near miss"),
    (r"\b(off sick|sick(ness)?|ill|illness|poorly|unwell)\b", "sickness absence"),
    (r"\b(holiday|annual leave|days? off|time off|leave)\b", "annual leave"),
    (r"\b(lunch|breaks?|breaktime|dinner time)\b", "breaks rest working time"),
    (r"\b(start(ing)? time|finish(ing)? time|hours|late|early|flexi)\b", "working hours"),
    (r"\b(pay|paid|salary|wages?|overtime)\b", "pay"),
    (r"\b(claim\w*|expenses?|money back|reimburs\w*|receipts?|mileage)\b", "expenses claim reimbursement"),
    (r"\b(bills?|electric\w*|gas|heating|broadband|wifi|internet bill|utilit\w*)\b", "utility bills household costs"),
    (r"\b(from home|wfh|working from home|remote\w*|hybrid)\b", "working from home home working"),
    (r"\b(laptops?|phones?|mobiles?|tablets?|ipads?|devices?|computers?)\b", "equipment devices"),
    (r"\b(passwords?|log ?in|logins?|sign ?in|account)\b", "password account"),
    (r"\b(emails?|e-mails?|gmail|hotmail|outlook|inbox)\b", "e-mail"),
    (r"\b(usb|memory stick|pen drive|hard drive)\b", "removable media"),
    (r"\b(lost|stolen|nicked|left (it|my \w+) on)\b", "lost stolen"),
    (r"\b(data|personal (info|information|details)|details|records|files?)\b", "personal data information"),
    (r"\b(wrong (person|parent|address|email)|sent (it )?to the wrong|by mistake)\b", "data breach error"),
    (r"\b(gifts?|presents?|vouchers?|chocolates|bottle of|freebies?|hampers?)\b", "gifts hospitality"),
    (r"\b(second job|side hustle|other job|private work|freelanc\w*|self[- ]employed)\b", "secondary employment"),
    (r"\b(partner|wife|husband|relative|related|family member|cousin|brother|sister|best friend)\b",
     "personal relationship conflict of interest"),
    (r"\b(journalists?|press|newspaper|local paper|reporters?|tv|radio)\b", "media press enquiries"),
    (r"\b(whistle ?blow\w*|blow the whistle|grass\w*|snitch\w*|speak up)\b", "raising concerns whistleblowing"),
    (r"\b(anonymous\w*|anon|without (my|giving my) name)\b", "anonymous confidential"),
    (r"\b(fraud\w*|fiddl\w*|stealing|theft|nick(ing|ed)|fiddle)\b", "fraud theft"),
    (r"\b(abroad|overseas|out of the country|outside the uk)\b", "abroad outside the UK"),
    (r"\b(boss|line manager|supervisor|team leader)\b", "manager"),
    (r"\b(kids?|child(ren)?|pupils?|students?|learners?)\b", "pupils children"),
    (r"\b(parents?|mums?|moms?|dads?|carers?)\b", "parents carers"),
    (r"\b(colleagues?|co-?workers?|workmates?)\b", "colleague employees"),
    (r"\b(photos?|pictures?|videos?|filming|filmed|selfies?)\b", "photographs images"),
    (r"\b(drink\w*|drunk|alcohol|pints?|hungover|booze)\b", "alcohol"),
    (r"\b(drugs?|weed|cannabis)\b", "drugs"),
    (r"\b(smok\w*|vap\w*|cigarettes?)\b", "smoking vaping"),
    (r"\b(dress|wear|clothes|trainers|jeans|tattoos?|piercings?|uniform)\b", "dress appearance"),
    (r"\b(police|arrested|caution(ed)?|convict\w*|court|charged)\b", "criminal police"),
    (r"\b(volunteers?|agency|supply|contractors?|temps?)\b", "volunteers agency workers contractors"),
    (r"\b(training|course|courses)\b", "training"),
    (r"\b(complain\w*)\b", "complaint"),
    (r"\b(how long|how soon|deadline|by when|within|time limit)\b", "timescale deadline within"),
    (r"\b(who do i (tell|report|ask|contact)|who to (tell|contact|report))\b", "report to contact"),
    (r"\b(social media|socials)\b", "social media"),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The general vocabulary plus a corpus's own entries (pattern -> words appended)."""

    entries: tuple[tuple[re.Pattern[str], str], ...]

    def with_entries(self, extra: Sequence[tuple[str, str]]) -> Vocabulary:
        compiled = tuple((re.compile(p, re.IGNORECASE), terms) for p, terms in extra)
        return Vocabulary(self.entries + compiled)

    def expand(self, text: str) -> str:
        """The normalised query plus the formal terms for every concept it mentions."""
        base = normalise(text)
        extra = [terms for pattern, terms in self.entries if pattern.search(base)]
        return base if not extra else base + " " + " ".join(extra)

    def reading(self, text: str) -> str:
        """A message as search embeds it first: normalised, stripped, expanded. The classifier and example
        messages are read the same way, so they live in the same space as the query."""
        return self.expand(normalise(text).strip())


GENERAL = Vocabulary(tuple((re.compile(p, re.IGNORECASE), terms) for p, terms in _GENERAL))


def normalise(text: str) -> str:
    """Rewrite chat abbreviations to full words, keeping everything else as typed."""
    out: list[str] = []
    last = 0
    for match in re.finditer(r"[A-Za-z][A-Za-z'.&]*[A-Za-z]|[A-Za-z]", text):
        word = match.group(0)
        key = word.lower().rstrip(".")
        replacement = _REWRITE.get(key)
        if replacement is None and key.endswith("'s"):
            base = _REWRITE.get(key[:-2])
            replacement = f"{base}'s" if base else None
        out.append(text[last : match.start()])
        out.append(replacement if replacement is not None else word)
        last = match.end()
    out.append(text[last:])
    return "".join(out)


def expand(text: str) -> str:
    """``GENERAL.expand``: the normalised query plus the general vocabulary's terms."""
    return GENERAL.expand(text)


def reading(text: str) -> str:
    """``GENERAL.reading``: what the classifier embeds (corpus vocabulary is search's business)."""
    return GENERAL.reading(text)

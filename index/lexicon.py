"""Staff vocabulary: the words people use in chat, mapped onto the words the policies use.

Staff write "FB", "insta", "a parent", "on my lunch", "get sacked"; the policy says "Facebook", "Instagram",
"service users and their families", "working time", "dismissal". Expanding a query with the policy's words lets
the lexical index meet it. Entries are general vocabulary (abbreviations, synonyms, register), never answers to
particular questions; each maps a word or phrase to extra terms appended to the query.
"""

from __future__ import annotations

import re

__all__ = ["expand", "normalise", "reading"]

# Abbreviations and spellings rewritten in place (so both indexes see the full word).
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
    "linkedin": "Linked-In",
    "linked in": "Linked-In",
    "yt": "YouTube",
    "x.com": "Twitter",
    "dm": "direct message",
    "dms": "direct messages",
    "dm'd": "messaged",
    "pm": "private message",
    "slt": "senior leadership managers",
    "smt": "senior management managers",
    "ht": "headteacher manager",
    "hr": "HR",
    "ta": "teaching assistant employee",
    "tas": "teaching assistants employees",
    "la": "local authority Council",
    "pic": "picture image",
    "pics": "pictures images",
    "pfp": "profile photograph",
    "ict": "ICT",
    "gdpr": "Data Protection legislation",
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
}

# Concepts: a phrase found in the query appends the policy's own terms.
_CONCEPTS: tuple[tuple[str, str], ...] = (
    (r"\b(parents?|mums?|moms?|dads?|carers?|famil(y|ies)|client|clients|pupils?|students?|kids?|child(ren)?)\b",
     "service users families"),
    (r"\b(friend(ed)?|friend requests?|follow(s|ed|ing)?|add(ed)? me|connect(ed)?)\b", "friends friend requests linked"),
    (r"\b(lunch|break(s|time)?|dinner|on shift|shift|work(ing)? hours|in work|at work|school day|office hours)\b",
     "working time work"),
    (r"\b(phone|mobile|iphone|android|tablet|laptop|own device)\b", "mobile devices personal computers"),
    (r"\b(sack(ed|ing)?|fired|fire me|lose my job|get the boot|let go|trouble)\b",
     "dismissal disciplinary action misconduct"),
    (r"\b(discipline|disciplined|disciplinary|investigat\w*)\b", "disciplinary action misconduct investigated"),
    (r"\b(slag(ging)? off|moan(ing)?|rant(ing)?|vent(ing)?|complain(ing|ed)? about|bitch(ing)?|digs?|criticis\w*)\b",
     "criticising disparaging comments colleagues managers"),
    (r"\b(troll(s|ing|ed)?|abus\w*|hate|hateful|threat\w*|nasty|vile|insult\w*)\b",
     "abuse abusive activity target complaints"),
    (r"\b(bully\w*|bullied|pick(ing|ed)? on|harass\w*|gang(ing)? up)\b", "bullying harassment"),
    (r"\b(racis\w*|sexis\w*|homophob\w*|transphob\w*|religio\w*|disab\w*)\b",
     "discriminatory offensive derogatory comments"),
    (r"\b(like[ds]?|liking|share[ds]?|sharing|retweet\w*|repost\w*)\b", "agreeing with or condoning content"),
    (r"\b(school|academy|the council|employer|my work|workplace)\b", "Council organisation"),
    (r"\b(make (the )?(school|council|us) look bad|reputation|embarrass\w*|bring\w* .* name)\b", "disrepute"),
    (r"\b(privacy|private|locked|lock(ed)? down|settings)\b", "privacy settings"),
    (r"\b(profile pic\w*|photo(s|graph)? of me|selfie)\b", "photograph profile"),
    (r"\b(delete[ds]?|deleting|remove[ds]?|take (it )?down)\b", "delete withdraw removed"),
    (r"\b(whistle ?blow\w*|public disclosure|blow the whistle|raise a concern)\b", "Confidential Reporting Code"),
    (r"\b(social media|social networking|apps?|platforms?)\b", "social media"),
    (r"\b(twitter|tweet\w*|x)\b", "Twitter"),
    (r"\b(whatsapp|group chat|messag\w*|text(s|ed|ing)?|snapchat|chat)\b", "communicate instantly chat rooms"),
    (r"\b(tiktok|snapchat|reddit|discord|threads|bluesky|mastodon|pinterest|twitch|new app)\b",
     "new social media developed in the future"),
    (r"\b(photo(s|graphy)?|video(s)?|picture(s)?|images?|vlog\w*|blog\w*)\b", "images image-sharing blogs"),
    (r"\b(class account|school account|official account|work account|department page|school page)\b",
     "work official social media sites Social Media Protocols"),
    (r"\b(confidential\w*|gossip|names? of|private info\w*|data)\b", "confidential information"),
    (r"\b(manager|boss|line manager|head|headteacher|supervisor)\b", "manager"),
    (r"\b(volunteer\w*|agency|supply|contractor\w*|governor\w*|councillor\w*|apprentice\w*|work experience|placement)\b",
     "applies to contractors agency workers volunteers elected members"),
    (r"\b(fake (account|profile)|impersonat\w*|pretending to be me)\b", "abuse report mechanisms site"),
    (r"\b(screenshot\w*|evidence|proof)\b", "copied redistributed"),
    (r"\b(why (does|do|would|should|is) (the )?(council|school|employer|they|work|it)|point of (this|the) policy|"
     r"purpose|reasoning|what is (this|the) policy for|why (have|do) we (have|need))\b",
     "purpose of this policy risks reputation confidential information legal obligations"),
    (r"\b(does (it|this|the policy) (cover|apply)|appl(y|ies) to|cover(s|ed)? (me|us|what)|day off|weekends?|"
     r"holidays?|outside (of )?work|out of (work|hours)|after work|at home|own time|in my own time)\b",
     "applies to personal purposes whether during office hours or otherwise equipment belonging to staff "
     "actions outside of their work"),
    (r"\b(school|class|nursery|centre|council|department|team|library|service|official|work)('s)? "
     r"(insta\w*|facebook|twitter|tiktok|page|account|channel|blog|group)\b|\bon behalf of\b|\bset up a page\b",
     "work purposes representing the Council social media activities Social Media Protocols"),
    (r"\b(journalist|press|newspaper|local paper|reporter|media (enquir\w*|request\w*)|bbc|tv|radio)\b",
     "Media Contact policy"),
    (r"\b(public disclosure|protected disclosure|whistle[- ]?blow\w*)\b", "Confidential Reporting Code"),
    (r"\b(what happens|complain(t|ts|ed|s)? about (me|my|something)|someone complains|get reported|"
     r"reported me|formal complaint)\b",
     "complaints allegations misuse misconduct investigated disciplinary"),
    (r"\b((disciplinary|grievance) (procedure|policy|process)|separate (procedure|policy)|which polic(y|ies)|"
     r"other polic(y|ies)|what polic(y|ies))\b",
     "works alongside other policies and procedures Disciplinary Procedure"),
    (r"\b(ict|it policy|acceptable use|internet (and|&) email|work (pc|computer|laptop|email))\b",
     "Acceptable Use of ICT policy Internet and Email Acceptable Use Procedure"),
    (r"\b(anonymous\w*|anon|no names?|not nam\w*|don'?t name|without naming|pseudonym|different name|"
     r"nickname|fake name)\b", "anonymised identifiable"),
    (r"\b(vent\w*|moan\w*|rant\w*|about (my|our) (day|job|work|school|boss|manager|class)|feral)\b",
     "discuss work-related issues online complaints management"),
    (r"\b(support|back me up|entitled|what can (the )?(school|council|my manager) do|stand by me)\b",
     "support employees subject of abuse report to manager"),
    (r"\b(as a (line )?manager|i manage|my team|one of my (staff|team)|my staff|team leader|as (the )?head)\b",
     "managers responsibility take prompt action ensure staff aware"),
    (r"\b(youtube|spotify|netflix|podcasts?|music)\b", "video-sharing YouTube"),
    (r"\b(onlyfans|adult content|modelling|side hustle|dating apps?|tinder|hinge|bumble|second job)\b",
     "online activity incompatible with the position they hold"),
    (r"\b(residents?|patients?|service users?|looked after|young (person|people)|care leavers?|names on)\b",
     "service users confidential information"),
    (r"\b(bio|profile|about me|job title|where i work|my employer|workplace)\b",
     "profile occupation employer work location identifiable"),
)  # fmt: skip
_CONCEPT_PATTERNS = tuple((re.compile(p, re.IGNORECASE), terms) for p, terms in _CONCEPTS)
_TOKEN = re.compile(r"[A-Za-z][A-Za-z'.]*|\S")


def normalise(text: str) -> str:
    """Rewrite chat abbreviations to full words, keeping everything else as typed."""
    out: list[str] = []
    last = 0
    for match in re.finditer(r"[A-Za-z][A-Za-z'.]*[A-Za-z]|[A-Za-z]", text):
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
    """The normalised query plus the policy's terms for every concept it mentions (for lexical search)."""
    base = normalise(text)
    extra: list[str] = []
    for pattern, terms in _CONCEPT_PATTERNS:
        if pattern.search(base):
            extra.append(terms)
    return base if not extra else base + " " + " ".join(extra)


def reading(text: str) -> str:
    """A message as search embeds it first (``HybridSearcher.plan``): normalised, stripped, expanded. The
    classifier and the example messages are read the same way, so they live in the same space as the query."""
    return expand(normalise(text).strip())

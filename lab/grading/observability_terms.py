"""Words and figures as :mod:`lab.grading.observability_doc` reads them.

The word patterns: each layer's signals and the questions they answer, the KPI's parts (rows,
outcomes, threshold, delay, segments), who is paged and how urgently. The figure readers:
latencies in milliseconds, rates as fractions and delays in days, their units converted. A term
negated just before ("not the SRE") does not count (:func:`spans`).
"""

from __future__ import annotations

import re

from lab.grading.markdown.numbers import find_numbers, find_quantities


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


# ---- signals and the questions they answer
PCTL = _rx(r"\bp9[59](\.9+)?\b|\b9[59](\.9+)?(th)?[- ]?percentile|\b99(\.9+)?\s*% of (the )?(requests|calls|responses|"
           r"predictions)|\btail latenc\w*")
LATENCY = _rx(r"\blatenc\w*|\bresponse[- ]times?\b|\bp\d{2}(\.\d+)?\b|\bpercentile|\bmedian\b")
MEDIAN = _rx(r"\bmedian\b|\bmean\b|\baverage\b|\bp50\b|\btypical\b")  # not what a p99 SLO is compared with
ERRORS = _rx(r"\berror[- ]?rates?\b|\berrors?\b|\b5xx\b|\bhttp 5\d\d\b|\bfailed requests\b|\bfailure rates?\b|"
             r"\bnon[- ]2xx\b")
SYSTEM = _rx(LATENCY.pattern + "|" + ERRORS.pattern + r"|\bthroughput|\btraffic\b|\brequests? per second|\b[rq]ps\b|"
             r"\bsaturat\w*|\bcpu\b|\bmemory\b|\buptime\b|\bavailability\b|\bqueue (length|depth)")
SYSTEM_TOPIC = _rx(SYSTEM.pattern + r"|\bsystem (signals?|slos?|metrics?|alerts?)|\bslo (breach\w*|violation\w*)|"
                   r"\boutages?\b|\bservice (is )?down\b")
SYSTEM_Q = _rx(r"\b(is|are|stays?|be|being) (it |the service |the api |the endpoint )?up\b|\bup and (running|fast|"
               r"responding)|\bfast\b|\bquick\w*|\bslow\b|\bavailable\b|\brespond\w*|\breachab\w*|\bdown\b|"
               r"\boutages?\b|\bserv(e|es|ing) (requests|traffic|callers|users)|\bservice health|\bhealthy service|"
               r"\bservice is healthy|\bkeep(s|ing)? up\b|\bcapacity\b|\boverload\w*")
MODEL = _rx(r"\bdrift\w*|\bpsi\b|\bpopulation stability|\bkolmogorov|\bks[ -]test|\bwasserstein|\bjensen|"
            r"\bdistribution\w*|\broc[ _-]?auc\b|\bauc\b|\baccuracy\b|\bprecision\b|\brecall\b|\bf1\b|\bbrier\b|"
            r"\blog[ -]?loss\b|\bcalibrat\w*|\bmodel performance|\bperformance (on|over|of the model)|\blabell?ed rows")
MODEL_Q = _rx(r"\bright\b(?! away| now)|\bcorrect\w*|\bwrong\b|\baccurate\b|\bstill (good|valid|works?|working|holds?|"
              r"predict\w*|fits?)|\bdegrad\w*|\btrust\w*|\bquality\b|\breliab\w*|\bstale\b|\bout of date|"
              r"\b(world|data|inputs?|applicants?) (has |have )?chang\w*")
KPI_WORD = _rx(r"\bkpis?\b|\bkey performance indicators?|\bbusiness (metrics?|signals?|outcomes?|alerts?)")
BUSINESS = _rx(KPI_WORD.pattern + r"|\bdefault rates?\b|\bapproval rates?\b|\bloss rates?\b|\bbad debt|\brevenue\b")
BUSINESS_Q = _rx(r"\b(its|the) job\b|\bdoing what\b|\bcost\w*|\bmoney\b|\bloss(es)?\b|\blos(e|ing)\b|\bprofit\w*|"
                 r"\brevenue\b|\bvalue\b|\bimpact\w*|\bworth\b|\bpay(s|ing)? off|\bbottom line|\bpurpose\b|\bgoals?\b|"
                 r"\bharm\w*|\bbusiness (needs?|questions?|results?)")
LAYERS = {"system": _rx(r"\b(system|service|infrastructure|platform)\b"), "model": _rx(r"\bmodels?\b"),
          "business": _rx(r"\b(business|kpis?)\b")}
HEALTHY = _rx(r"\bhealth\w*|\bfine\b|\bgreen\b|\bnormal\b|\bok(ay)?\b|\bstable\b|\bflat\b|\bnominal\b|\bgood\b|"
              r"\bwithin (their |the )?slos?\b|\bunchanged\b")
NOT_IMPLY = _rx(r"\b(do(es)?n't|do(es)? not|did not|cannot|can't|won't|will not) (mean|imply|show|tell|prove|guarantee|"
                r"say|see|catch|detect|notice|reveal)|\bsays? nothing|\btells? (us )?nothing|\bno guarantee|\bblind\b|"
                r"\bsilent\w*|\bnot enough\b|\binvisible\b")
DECLINE = _rx(r"\bfall\w*|\bfell\b|\bdrop\w*|\bdeclin\w*|\bdegrad\w*|\bworse\w*|\bwrong\b|\bfail\w*|\bris(e|es|ing)\b|"
              r"\brose\b|\bclimb\w*|\bdeteriorat\w*|\bsuffer\w*|\bdoubl\w*|\bspik\w*")
CONTRAST = _rx(r"\bwhile\b|\bwhilst\b|\beven (if|when|though)\b|\bbut\b|\balthough\b|\byet\b|\bwhereas\b|\bstill\b")
# ---- the KPI: rows, outcomes, threshold, delay, segments
ROWS = _rx(r"\bapprov\w*|\baccepted\b|\bgranted\b|\bfunded\b|\bbooked\b|\bdecisions?\b|\bloans?\b|\bapplications?\b")
OUTCOMES = _rx(r"\boutcomes?\b|\bdefault\w*|\blabel\w*|\brepa(id|y\w*)|\bcharg\w*[- ]off|\bwritten off|"
               r"\bground truth|\bwent bad|\bgo(es)? bad")
COMPUTE = _rx(r"\bcomput\w*|\bcalculat\w*|\bmeasur\w*|\bdefin\w*|\bdivid\w*|\bover\b|\bamong\b|\bout of\b|\bshare\b|"
              r"\bfraction\b|\bproportion\b|\bnumber of\b|\bcount\w*|\bratio\b|\bper\b|[=/]")
THRESHOLD = _rx(r"\babove\b|\bbelow\b|\bexceed\w*|\bover\b|\bunder\b|\bgreater\b|\bmore than\b|\bless than\b|"
                r"\bhigher than\b|\blower than\b|[<>]|\bthreshold\w*|\balert\w*|\balarm\w*|\bbreach\w*|\btargets?\b|"
                r"\blimits?\b|\bceiling\b|\bfloor\b|\bmax(imum)?\b|\bmin(imum)?\b|\btolerance\b|\btrigger\w*|"
                r"\bat most\b")
DELAY = _rx(r"\bdelay\w*|\blag\w*|\barriv\w*|\bafter\b|\blater?\b|\bwait\w*|\bmatur\w*|\bknown\b|\buntil\b|\btakes?\b")
SEGMENT = _rx(r"\bsegment\w*|\bcohorts?\b|\bslic\w*|\bsub-?groups?\b|\bbreakdowns?\b|\bbroken down\b|\bbreak\w* "
              r"(\w+ ){0,2}down\b|\bdisaggregat\w*")
AVERAGE = _rx(r"\baverag\w*|\boverall\b|\baggregat\w*|\btotals?\b|\bblended\b|\bpooled\b|\bglobal\b|\bmean\b|"
              r"\bwhole (book|portfolio|population)")
HIDE = _rx(r"\bhid\w*|\bmask\w*|\bdilut\w*|\bwash\w* out|\bdrown\w*|\binvisible\b|\bswamp\w*|\bcancel\w*|\bsmooth\w*|"
           r"\bburi\w*|\baverag\w* (it |them )?(away|out)|\blost in\b|\bdisappear\w*|\bnot (show|visible|see)\w*|"
           r"\bcan't see|\bcannot see|\blook\w* (fine|normal|healthy|ok)|\bunnoticed")
SMALL_PART = _rx(r"\bgroups?\b|\bsubsets?\b|\bpockets?\b|\bminorit\w*|\bpart of\b|\bsmall share|\bone (of|region|"
                 r"band|kind)")
# ---- who is paged, and how urgently
ONCALL = _rx(r"\bsres?\b|\bsite reliability|\bplatform (team|engineer\w*|on[- ]call)|(?<!ml )(?<!model )\bon[- ]call\b|"
             r"\bops team|\boperations team|\binfra(structure)? team|\bdevops\b")
ML_ROLE = _rx(r"\bmodel owners?\b|\bowner of the model|\bml (engineer\w*|team|lead|owner|on[- ]call)|"
              r"\bmachine[- ]learning (engineer\w*|team|lead)|\bdata scientists?\b|\bdata science (team|lead)|"
              r"\bmodell?ing team|\bmlops\b")
BIZ_ROLE = _rx(r"\b(business|product|credit|risk|lending|underwriting|finance|collections)( \w+)? (owners?|team|leads?|"
               r"managers?|officers?|committee|function|head|analysts?|director)\b|\bhead of (credit|risk|lending|"
               r"product)|\bchief risk|\bcro\b|\bcredit risk\b(?! model| scor)|\brisk management")
PAGE = _rx(r"\bpag(e|ed|es|ing)\b|\bpager\w*|\bopsgenie\b|\bwak(e|es|ing)\b|\bcall(ed)? out\b")
URGENT = _rx(PAGE.pattern + r"|\bimmediate\w*|\bat once\b|\bright away\b|\b24/7\b|\b24x7\b|\b(a)?round the clock|"
             r"\bany (time|hour)|\bout[- ]of[- ]hours\b|\bwithin \d+ min\w*|\burgent\w*|\bsev[- ]?[12]\b|\bp[12]\b|"
             r"\bcritical\b|\bhigh severity")
SLOW = _rx(r"\btickets?\b|\bnext (business|working) day|\bbusiness hours|\bworking hours|\boffice hours|"
           r"\b(daily|weekly) (review|report|check|meeting)|\breviewed (daily|weekly)|\bsev[- ]?[34]\b|\bp[34]\b|"
           r"\blow(er)? severity|\bnon[- ]urgent|\bnot urgent|\bemail\w*|\bslack\b|\bnext morning|\bwithin (one|a|1|"
           r"two|2) (business|working) days?|\bno (page|pager)\b|\bnot a page\b|\b(is|are|be) not paged|\bnever "
           r"paged|\bnobody is paged|\bno one is paged|\bwithout (a )?pag\w*")
NEGATION = _rx(r"(\b(no|not|never|without|nobody|neither|nor|cannot|rather than|instead of)\b|n't\b)"
               r"((?!\b(and|but|while|whereas|so|then)\b)[^.;:|,]){0,45}$")  # to the clause's end
# ---- figures
TIME = _rx(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(ms|msecs?|milliseconds?|s|secs?|seconds?)(?![a-z])|\((ms|milliseconds|s|"
           r"seconds)\)\s*:\s*(?:[<>=~]+|below|under|at most|max\w*)?\s*(\d+(?:\.\d+)?)(?![\d.]*\s*%)")
PERCENT = _rx(r"(?<![\w.])(\d+(?:\.\d+)?|\.\d+)\s*(%|percent\b|per cent\b)|\(%\)\s*:\s*(?:[<>=~]+|below|under)?\s*"
              r"(\d+(?:\.\d+)?)")
DURATION = _rx(r"(?<![\w.])\d+(\.\d+)?\s*-?\s*(hours?|h|days?|d|weeks?|months?|years?|minutes?|mins?)\b")
WINDOWED = _rx(r"\b(for|during|every|lasting|sustained( for)?|over the (last|past))\s+$")
FIGURE_OWNERS = {"error": ERRORS, "kpi": None, "latency": _rx(PCTL.pattern + "|" + LATENCY.pattern), "model": MODEL,
                 "system": _rx(r"\bavailability\b|\buptime\b|\bthroughput|\bsaturat\w*")}
DELAY_OWNERS = {"outcome": OUTCOMES, "kpi": None, "other": _rx(MODEL.pattern + "|" + SYSTEM.pattern)}
# a KPI name's words and the words that say them too (a paraphrase of the name)
_SYNONYMS = {"rate": r"\b(rate|share|fraction|proportion|percent\w*|ratio)\w*|%", "share": r"\b(rate|share|fraction|"
             r"proportion|percent\w*)\w*|%", "approved": r"\b(approv|accept|grant|funded|booked)\w*",
             "default": r"\bdefault\w*|\bgo(es)? bad|\bwent bad"}
Span = tuple[int, int]


def spans(text: str, rx: re.Pattern[str], *, negate: bool = True) -> list[Span]:
    """Where ``rx`` matches ``text``, leaving out matches negated just before (with ``negate``).

    >>> spans("We page the model owner, not the SRE.", ONCALL), spans("The SRE is paged.", ONCALL)
    ([], [(4, 7)])
    """
    return [m.span() for m in rx.finditer(text) if m.end() > m.start() and
            not (negate and NEGATION.search(text[:m.start()]))]


def latency_ms(text: str) -> list[float]:
    """Latency figures in milliseconds; windows ("for 60 s") are not figures.

    >>> latency_ms("p99 under 0.5 s for 60 s; P95 below 300ms"), latency_ms("Threshold (ms): 250")
    ([500.0, 300.0], [250.0])
    """
    out = []
    for m in TIME.finditer(text):
        value, unit = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
        if not (m.group(1) and WINDOWED.search(text[:m.start()])):
            out.append(float(value) * (1.0 if unit.lower().startswith("m") else 1000.0))
    return out


def fractions(text: str) -> list[tuple[float, int, int]]:
    """Rates as fractions with their spans: "1%", "0.5 percent", "0.01"; percentiles are not rates.

    >>> [f for f, _, _ in fractions("p99 below 300 ms, errors under 0.5%, KPI above 0.04; 99% of requests ok")]
    [0.005, 0.04]
    """
    skip = [m.span() for rx in (PCTL, TIME, DURATION) for m in rx.finditer(text)]
    out = [(float(m.group(1) or m.group(3)) / 100.0, m.start(), m.end()) for m in PERCENT.finditer(text)]
    out += [(n.value, n.start, n.end) for n in find_numbers(text) if n.unit is None and 0 < n.value < 1
            and not any(a <= n.start < b for _, a, b in out)]
    return sorted((f for f in out if not any(a <= f[1] < b for a, b in skip)), key=lambda f: f[1])


def delay_days(text: str) -> list[tuple[float, int, int]]:
    """Durations in days with their spans ("five scenario days", "a week", "120 hours"); months and years left out.

    >>> [d for d, _, _ in delay_days("outcomes arrive five scenario days later, or a week at most; 120 hours")]
    [5.0, 7.0, 5.0]
    """
    text = re.sub(r"\b(scenario|simulated|lab|calendar)\s+(?=(days?|weeks?)\b)", lambda m: " " * len(m.group(0)), text,
                  flags=re.I)
    found = [(q.days(), q.start, q.end) for q in find_quantities(text) if q.unit in ("hours", "days", "weeks")]
    found += [(7.0, m.start(), m.end()) for m in re.finditer(r"\b(a|one) week\b", text, re.I)]
    return [(float(d), x, y) for d, x, y in sorted(found, key=lambda f: f[1]) if d is not None]

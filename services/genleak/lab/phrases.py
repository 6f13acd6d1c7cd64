"""Word lists and sentence templates of the lab's Enron-like business mail (data only)."""

from __future__ import annotations

import re

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")
PIPELINES = ("Transco", "Tennessee", "El Paso", "NGPL", "Texas Eastern", "Northern Natural", "Transwestern",
             "Florida Gas", "Kern River", "Columbia Gulf")
COUNTERPARTIES = ("Dynegy", "Reliant", "Duke Energy", "El Paso Merchant", "Aquila", "Williams", "Mirant",
                  "Calpine", "Sempra", "PG&E", "Coral Energy", "TXU")
LOCATIONS = ("the 32nd floor conference room", "EB 3321", "the Houston office", "the Portland office",
             "the trading floor", "the Hyatt downtown", "the London office", "room 4C2")
TITLES = ("Vice President, Trading", "Senior Analyst", "Director, Gas Structuring", "Manager, Risk Control",
          "Associate", "Counsel, Legal", "Scheduler", "Director, Human Resources", "Originator, West Power")
CLOSINGS = ("Thanks,", "Regards,", "Best regards,", "Thanks again,", "Cheers,", "Talk soon,")

SUBJECTS: dict[str, tuple[str, ...]] = {
    "meeting": ("Staff meeting", "Meeting on {day}", "Weekly update", "Offsite agenda", "Rescheduled meeting"),
    "deal": ("Deal {deal}", "Confirmation needed", "Term sheet", "Counterparty question", "Pricing"),
    "gas": ("Gas nominations", "Pipeline capacity", "Storage position", "Imbalance report", "Daily volumes"),
    "power": ("West power positions", "Peak schedule", "Outage notice", "Transmission rights", "Hourly desk"),
    "contract": ("Master agreement", "Draft contract", "ISDA comments", "Credit annex", "Amendment"),
    "hr": ("Open position", "Performance reviews", "New analyst", "Benefits enrollment", "Interview schedule"),
    "schedule": ("Travel plans", "Vacation", "Schedule change", "Conference call", "Lunch"),
}
SUBJECTS = {topic: tuple(s.replace("{day}", "Friday") for s in subjects) for topic, subjects in SUBJECTS.items()}


def subject_topic(subject: str) -> str | None:
    """The topic whose subject line this is ("Deal 123456" is a deal subject)."""
    for topic, subjects in SUBJECTS.items():
        if any(re.fullmatch(re.escape(s).replace(re.escape("{deal}"), r"\d{6}"), subject) for s in subjects):
            return topic
    return None

BODIES: dict[str, tuple[str, ...]] = {
    "meeting": (
        "Can we move our {day} meeting to {hour}:00 in {location}?",
        "The staff meeting is on {day} at {hour}:00; please bring the {month} numbers.",
        "I booked {location} for {day} afternoon so we can walk through the plan.",
        "Please send me your slides before {day} so I can circulate the agenda.",
    ),
    "deal": (
        "We agreed with {counterparty} on deal {deal} at ${price}/MMBtu for {month}.",
        "Deal {deal} with {counterparty} still needs a confirmation from their back office.",
        "{counterparty} wants to extend the term of deal {deal} through {month}; what do you think?",
        "The total value of the {counterparty} transaction is about ${amount}.",
    ),
    "gas": (
        "Nominations on {pipeline} for {day} are {volume} MMBtu/d at the usual points.",
        "We are short {volume} MMBtu on {pipeline} and need to buy back before {day}.",
        "Storage injections are running {pct}% ahead of plan for {month}.",
        "{pipeline} posted a force majeure, so our {day} volumes may be cut.",
    ),
    "power": (
        "We sold {mw} MW of on-peak power to {counterparty} for {month}.",
        "The desk is long {mw} MW for {day} heavy load hours.",
        "Transmission from {location} was curtailed, please check the {day} schedule.",
        "Prices in the West hit ${price} this morning; keep an eye on the {month} strip.",
    ),
    "contract": (
        "Attached is the draft master agreement with {counterparty}; legal comments are due {day}.",
        "{counterparty} marked up the credit annex and wants a ${amount} threshold.",
        "Please review section {pct} of the contract before we send it back.",
        "The amendment to deal {deal} is ready for signature.",
    ),
    "hr": (
        "We have an open analyst position in the {month} rotation; send me any good resumes.",
        "Performance reviews are due by {day}, please finish yours.",
        "Our new associate starts on {day} and will sit in {location}.",
        "Interviews for the scheduler role are set for {day} at {hour}:00.",
    ),
    "schedule": (
        "I will be out of the office from {day} until the end of {month}.",
        "My flight lands at {hour}:00 on {day}, so I may miss the call.",
        "Let's do lunch on {day} if you are free.",
        "The conference call moved to {hour}:00 on {day}; the dial-in is unchanged.",
    ),
}

FILLERS = (
    "Let me know if you have any questions.",
    "Please call me if anything changes.",
    "I will follow up tomorrow.",
    "Thanks for your help on this.",
    "See you then.",
    "Please keep this confidential for now.",
    "Call me on my cell if you cannot find the file.",
)

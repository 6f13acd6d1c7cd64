"""Built-in demonstrations for the self-instruct loop's classification steps, written for genleak.

Wang et al. 2023 ask their model whether each new instruction is a classification task with a fixed
few-shot list (templates/clf_task_template.py) and write classification instances from a fixed
output-first list (templates/instance_gen_template.py). genleak prefers the seed tasks' own
`is_classification` labels as demonstrations; these sets stand in when the seeds carry no labels (or
only one kind). The texts are genleak's own, general and business-flavoured, and name no one.
"""

from __future__ import annotations

from genleak.generator.tasks.self_instruct_seeds import SeedExample, SeedTask

# (instruction, is it a classification task?) for the classification question.
CLASSIFY_DEMOS: tuple[tuple[str, bool], ...] = (
    ("Decide whether the customer review below is positive, negative or neutral.", True),
    ("Write a short thank-you note to a colleague who covered your shift.", False),
    ("Tell whether this e-mail is spam. Answer spam or not spam.", True),
    ("Summarize the meeting notes in three bullet points.", False),
    ("Given a claim and a passage, say whether the passage supports the claim, contradicts it, or says "
     "nothing about it.", True),
    ("List five questions a candidate could ask at the end of a job interview.", False),
    ("Label the priority of this support ticket as low, medium or high.", True),
    ("Pull out every date mentioned in the paragraph.", False),
    ("Which of the four options completes the sentence best? Answer A, B, C or D.", True),
    ("Explain why prices of heating fuel usually rise in winter.", False),
    ("Is the following statement true or false?", True),
    ("Rewrite the sentence so that it sounds more formal.", False),
    ("Sort this news headline into one of these sections: business, sport, politics, science.", True),
    ("Suggest a name for a coffee shop next to a university library.", False),
    ("Does the message ask the reader to do something by a deadline? Answer yes or no.", True),
    ("Find the word that is spelled wrong in the sentence and correct it.", False),
)

# Classification tasks with worked instances, shown output-first (label, then an input that fits it).
CLASSIFICATION_TASKS: tuple[SeedTask, ...] = (
    SeedTask("Classify the sentiment of the product review as positive or negative.", (
        SeedExample("The battery died after two days and nobody answered my support request.", "Negative"),
        SeedExample("Setup took five minutes and it has worked flawlessly since.", "Positive"),
    ), is_classification=True),
    SeedTask("Tell whether the e-mail asks the reader to do something. Answer yes or no.", (
        SeedExample("Could you send me the signed contract by Thursday?", "Yes"),
        SeedExample("Just letting you know the office will be closed on Monday.", "No"),
    ), is_classification=True),
    SeedTask("Label the urgency of the message as high, medium or low.", (
        SeedExample("The main server is down and customers cannot place orders.", "High"),
        SeedExample("When you have a minute, could you update the team calendar?", "Low"),
    ), is_classification=True),
    SeedTask("Is the statement true or false?", (
        SeedExample("Water boils at 50 degrees Celsius at sea level.", "False"),
        SeedExample("A week has seven days.", "True"),
    ), is_classification=True),
)

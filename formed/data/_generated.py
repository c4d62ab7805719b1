"""Generated datasets: made on the fly from a seed, so that nothing is downloaded.

``"spatial_relations"`` (the default dataset of the train command) is text classification
where word order matters. Each text places two coloured objects, amid distracting words::

    yesterday anna said that the red small box is to the left of the blue ball near the river
    → label "red" (the colour of the object on the left)

    the blue ball is east of the red box   → label "red"
    the red box is east of the blue ball   → label "blue"

The last two texts have the same words, so a bag-of-words model cannot tell their labels
apart: it can find the two colours but must guess which one is on the left (about 50% accuracy
at best), while a small LSTM or Transformer reads the order and reaches over 90% within a few
CPU minutes. The vocabulary has a few hundred words; texts have about 8 to 30 tokens.
"""

from __future__ import annotations

import random

from formed.data._datasets import SPLITS, BaseDataset, Splits

COLORS = ["red", "blue", "green", "yellow", "black", "white", "purple", "orange"]
OBJECTS = (
    "box ball cup chair lamp book key vase hat shoe bottle plate clock bag pen phone bowl candle "
    "brick drum kite jar mug fork spoon rope coin card shell stone basket bucket toy robot teapot pillow "
    "mirror ladder wheel bell flag globe crate barrel helmet glove"
).split()
ADJECTIVES = "small big tiny large old new wooden metal plastic glass round square heavy light shiny dusty".split()
LEFT = ["is left of", "is to the left of", "sits left of", "is west of", "stands to the left of", "lies left of"]
RIGHT = ["is right of", "is to the right of", "sits right of", "is east of", "stands to the right of", "lies right of"]
NAMES = (
    "anna ben carla david emma frank grace henry iris jack kate leo mia noah olga paul quinn rosa sam tina "
    "uma victor wendy xavier yara zoe alex bruno chloe dora elias fiona gustav hana ivan julia karl lena "
    "marco nina oscar petra rafael sofia tom ursula vera walter yusuf zara"
).split()
PLACES = (
    "kitchen garden river office station market library school park beach forest bridge tower harbor "
    "museum shop cellar attic garage hall bakery church farm hotel island lake mountain village castle "
    "airport theater stadium hospital factory barn meadow valley desert canyon port"
).split()
ADVERBS = (
    "yesterday today apparently clearly probably honestly again still already usually sometimes "
    "really quietly suddenly finally now then later obviously certainly maybe perhaps surely strangely "
    "luckily oddly frankly naturally evidently supposedly"
).split()
PREFIXES = [
    "{adverb}",
    "{name} said that",
    "{name} thinks that",
    "in the {place}",
    "near the {place}",
    "according to {name}",
    "i believe",
    "this morning",
    "at noon",
    "as {name} noticed",
    "when {name} came back",
    "after lunch",
    "during the storm",
    "on monday",
    "on friday",
    "last week",
    "{name} and {name2} agree that",
    "in the photo from the {place}",
]
SUFFIXES = [
    "near the {place}",
    "in the {place}",
    "{adverb}",
    "as usual",
    "by the {place}",
    "says {name}",
    "for now",
    "it seems",
    "on the shelf",
    "under the window",
    "behind the curtain",
    "next to the door",
    "if {name} is right",
    "or so {name} claims",
    "in every picture",
    "most of the time",
]


def _phrase(rng: random.Random, templates: list[str]) -> str:
    return rng.choice(templates).format(
        adverb=rng.choice(ADVERBS), name=rng.choice(NAMES), name2=rng.choice(NAMES), place=rng.choice(PLACES)
    )


def _object(rng: random.Random, color: str) -> str:
    adjective = f"{rng.choice(ADJECTIVES)} " if rng.random() < 0.4 else ""
    return f"the {color} {adjective}{rng.choice(OBJECTS)}"


def make_example(rng: random.Random, max_fillers: int = 2) -> dict[str, str]:
    """One record ``{"text": ..., "label": colour of the object on the left}``."""
    first, second = rng.sample(COLORS, 2)
    on_left = rng.random() < 0.5
    relation = rng.choice(LEFT if on_left else RIGHT)
    words = [_phrase(rng, PREFIXES) for _ in range(rng.randint(0, max_fillers))]
    words += [_object(rng, first), relation, _object(rng, second)]
    words += [_phrase(rng, SUFFIXES) for _ in range(rng.randint(0, max_fillers))]
    return {"text": " ".join(words), "label": first if on_left else second}


@BaseDataset.register("spatial_relations")
class SpatialRelationsDataset(BaseDataset):
    """Which of two coloured objects is on the left? (8 colour labels, order-dependent).

    Args:
        seed: fixes every split; the same seed always gives the same records.
        train_size / validation_size / test_size: records per split.
        max_fillers: at most this many distracting phrases before and after the relation.
    """

    def __init__(
        self,
        seed: int = 0,
        train_size: int = 4000,
        validation_size: int = 500,
        test_size: int = 500,
        max_fillers: int = 2,
    ) -> None:
        self.seed = seed
        self.sizes = {"train": train_size, "validation": validation_size, "test": test_size}
        for split, size in self.sizes.items():
            if size < 0:
                raise ValueError(f"{split}_size must be >= 0, got {size}")
        self.max_fillers = max_fillers

    def load(self) -> Splits:
        splits: Splits = {}
        for split in SPLITS:
            # A str seed is hashed with SHA-512 by `random`: stable across runs and machines.
            rng = random.Random(f"spatial_relations/{self.seed}/{split}")
            splits[split] = [make_example(rng, self.max_fillers) for _ in range(self.sizes[split])]
        return splits

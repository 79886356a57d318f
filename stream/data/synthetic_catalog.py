"""Titles for the synthetic stream's items, written from the same latent categories that
drive its users (stream/data/synthetic.py: item i is in category i % categories), so an
item's text predicts who will want it, as a real shop's titles do.

Each category has a theme of a few English words; a title is a shared adjective, two
or three of its theme's words and a model code. Two items of one category share words
but rarely a whole title; a text encoder places them near each other.
"""

from __future__ import annotations

import math
import random

from stream.data.synthetic import SyntheticSpec
from stream.messages.catalog import CatalogItem

THEMES: tuple[tuple[str, ...], ...] = (
    ("hiking", "boots", "trail", "waterproof", "outdoor", "mountain"),
    ("espresso", "coffee", "grinder", "barista", "beans", "roast"),
    ("yoga", "mat", "stretching", "pilates", "fitness", "balance"),
    ("guitar", "strings", "acoustic", "chords", "amplifier", "pick"),
    ("baby", "stroller", "infant", "nursery", "diaper", "toddler"),
    ("dog", "leash", "puppy", "kennel", "chew", "collar"),
    ("lipstick", "makeup", "mascara", "blush", "cosmetic", "lip"),
    ("laptop", "keyboard", "notebook", "processor", "screen", "computer"),
    ("garden", "shovel", "seeds", "flower", "soil", "planter"),
    ("fishing", "rod", "reel", "bait", "lure", "tackle"),
    ("camping", "tent", "sleeping", "bag", "lantern", "campfire"),
    ("kitchen", "knife", "chef", "cutting", "board", "blade"),
    ("running", "shoes", "sneakers", "jogging", "marathon", "sport"),
    ("watch", "wristwatch", "chronograph", "strap", "dial", "clock"),
    ("tea", "kettle", "teapot", "green", "herbal", "infusion"),
    ("bicycle", "helmet", "cycling", "pedal", "bike", "saddle"),
    ("skincare", "moisturizer", "serum", "cream", "face", "lotion"),
    ("headphones", "audio", "wireless", "earbuds", "bass", "speaker"),
    ("cat", "litter", "kitten", "scratching", "feline", "catnip"),
    ("board", "game", "dice", "puzzle", "cards", "strategy"),
    ("perfume", "fragrance", "cologne", "scent", "floral", "musk"),
    ("camera", "lens", "tripod", "photography", "zoom", "shutter"),
    ("wine", "glass", "corkscrew", "decanter", "vineyard", "red"),
    ("painting", "canvas", "brush", "acrylic", "easel", "watercolor"),
    ("swimming", "goggles", "swimsuit", "pool", "diving", "snorkel"),
    ("baking", "flour", "oven", "cake", "pastry", "whisk"),
    ("tennis", "racket", "court", "ball", "serve", "grip"),
    ("smartphone", "charger", "cable", "battery", "case", "mobile"),
    ("jewelry", "necklace", "bracelet", "earrings", "silver", "pendant"),
    ("winter", "jacket", "coat", "scarf", "gloves", "wool"),
    ("vitamin", "supplement", "protein", "capsules", "health", "nutrition"),
    ("lego", "bricks", "building", "toy", "blocks", "kids"),
    ("sofa", "cushion", "pillow", "living", "room", "couch"),
    ("shampoo", "hair", "conditioner", "scalp", "curls", "salon"),
    ("drill", "screwdriver", "tools", "hammer", "workshop", "wrench"),
    ("aquarium", "fish", "tank", "filter", "coral", "water"),
    ("novel", "book", "fiction", "paperback", "author", "story"),
    ("golf", "club", "putter", "tee", "fairway", "caddie"),
    ("candle", "wax", "aroma", "lavender", "wick", "candlelight"),
    ("printer", "ink", "paper", "cartridge", "scanner", "office"),
    ("ski", "snowboard", "slope", "goggles", "snow", "alpine"),
    ("sunglasses", "polarized", "frames", "shades", "uv", "eyewear"),
    ("backpack", "travel", "luggage", "suitcase", "trip", "carry"),
    ("soccer", "football", "cleats", "goal", "jersey", "stadium"),
    ("nail", "polish", "manicure", "gel", "varnish", "pedicure"),
    ("gaming", "console", "controller", "joystick", "videogame", "arcade"),
    ("bed", "mattress", "sheets", "duvet", "bedroom", "sleep"),
    ("violin", "bow", "orchestra", "classical", "cello", "rosin"),
    ("grill", "barbecue", "charcoal", "steak", "smoker", "tongs"),
    ("plant", "succulent", "cactus", "pot", "houseplant", "leaf"),
)
ADJECTIVES = ("premium", "classic", "compact", "deluxe", "essential", "modern", "pro",
              "lightweight", "durable", "new")  # fmt: skip


def synthetic_catalogue(spec: SyntheticSpec, seed: int | None = None) -> list[CatalogItem]:
    """One catalogue record per item of ``synthetic_events(spec)``, in item order."""
    rng = random.Random(spec.seed if seed is None else seed)
    categories = max(1, math.ceil(spec.items / spec.items_per_category))
    items = []
    for item in range(spec.items):
        category = item % categories
        words = list(THEMES[category % len(THEMES)])
        if category >= len(THEMES):  # more categories than themes: pair two themes
            words += THEMES[(category // len(THEMES) + category) % len(THEMES)][:2]
        chosen = rng.sample(words, rng.choice((2, 3)))
        code = f"{rng.choice('ABCDEFGHJK')}{rng.randrange(100, 999)}"
        title = f"{rng.choice(ADJECTIVES)} {' '.join(chosen)} {code}"
        items.append(CatalogItem(item_id=f"i{item}", title=title))
    return items

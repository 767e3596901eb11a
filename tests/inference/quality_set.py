"""A hand-written retrieval check: each query has one relevant passage in a shared pool of passages.

The pool holds every query's passage, so each query has 24 distractors, some of them on nearby topics.
`QUERIES` is English; `MULTILINGUAL` asks for the same passages in German, Spanish and French (for the
multilingual model only).
"""

from __future__ import annotations

PASSAGES = [
    "The Eiffel Tower was completed in 1889 for the World's Fair and stands on the Champ de Mars in Paris.",
    "Photosynthesis lets plants turn sunlight, water and carbon dioxide into glucose and oxygen.",
    "The Great Barrier Reef, off the coast of Queensland, is the largest coral reef system on Earth.",
    "Insulin is a hormone made by the pancreas that lets cells take up glucose from the blood.",
    "Mount Everest, on the border of Nepal and China, is the highest mountain above sea level.",
    "A sourdough starter is a mix of flour and water fermented by wild yeast and lactic acid bacteria.",
    "The Treaty of Versailles, signed in 1919, formally ended the First World War with Germany.",
    "Black holes are regions of spacetime where gravity is so strong that not even light can escape.",
    "To change a flat tyre, loosen the wheel nuts, jack up the car, swap the wheel and tighten the nuts.",
    "The Amazon rainforest produces a large share of the world's oxygen and hosts vast biodiversity.",
    "Python is a programming language known for its readable syntax and large standard library.",
    "Regular aerobic exercise strengthens the heart and lowers blood pressure.",
    "The Rosetta Stone carried the same decree in three scripts, which helped decipher hieroglyphs.",
    "Honey bees communicate the direction of flowers to the hive with a waggle dance.",
    "Interest rates set by central banks influence how expensive it is to borrow money.",
    "The violin has four strings tuned in fifths and is played with a bow.",
    "Antibiotics kill bacteria or stop their growth but do not work against viruses.",
    "The Sahara is the largest hot desert in the world, covering much of North Africa.",
    "Shakespeare wrote Hamlet, the tragedy of a Danish prince seeking revenge for his father's murder.",
    "A solar eclipse happens when the Moon passes between the Sun and the Earth and blocks the sunlight.",
    "Compound interest means earning interest on both the original deposit and the interest already paid.",
    "Penguins are flightless birds that live mostly in the Southern Hemisphere, many in Antarctica.",
    "The human skeleton of an adult has 206 bones.",
    "Basil, tomatoes, mozzarella and olive oil are the toppings of a classic pizza Margherita.",
    "Earthquakes are caused by the sudden release of energy when tectonic plates slip along a fault.",
]

# (query, index of its relevant passage)
QUERIES = [
    ("When was the Eiffel Tower built?", 0),
    ("How do plants make food from light?", 1),
    ("Where is the biggest coral reef?", 2),
    ("Which organ produces insulin?", 3),
    ("What is the tallest mountain in the world?", 4),
    ("How do I make bread rise without commercial yeast?", 5),
    ("Which agreement ended World War I?", 6),
    ("Why can't light escape from some places in space?", 7),
    ("My car has a puncture, how do I replace the wheel?", 8),
    ("Which forest is called the lungs of the planet?", 9),
    ("What language is good for beginners who want readable code?", 10),
    ("Is cardio good for my heart?", 11),
    ("How were Egyptian hieroglyphs deciphered?", 12),
    ("How do bees tell each other where flowers are?", 13),
    ("Why do loans get more expensive when the central bank acts?", 14),
    ("How many strings does a violin have?", 15),
    ("Will antibiotics cure my flu?", 16),
    ("What is the largest hot desert?", 17),
    ("Who wrote the play about the prince of Denmark?", 18),
    ("Why does the sky go dark in the middle of the day sometimes?", 19),
    ("How does interest on interest work?", 20),
    ("Which birds cannot fly and live near the South Pole?", 21),
    ("How many bones does an adult human have?", 22),
    ("What goes on a pizza Margherita?", 23),
    ("What causes earthquakes?", 24),
]

MULTILINGUAL = [
    ("Wann wurde der Eiffelturm gebaut?", 0),
    ("Welches Organ produziert Insulin?", 3),
    ("Was ist der höchste Berg der Welt?", 4),
    ("Welcher Vertrag beendete den Ersten Weltkrieg?", 6),
    ("Wie viele Knochen hat ein erwachsener Mensch?", 22),
    ("¿Cómo fabrican las plantas su alimento a partir de la luz?", 1),
    ("¿Dónde está el arrecife de coral más grande?", 2),
    ("¿Los antibióticos curan la gripe?", 16),
    ("¿Cuál es el desierto cálido más grande?", 17),
    ("¿Qué causa los terremotos?", 24),
    ("Comment les abeilles indiquent-elles où sont les fleurs ?", 13),
    ("Combien de cordes a un violon ?", 15),
    ("Qui a écrit la pièce sur le prince du Danemark ?", 18),
    ("Pourquoi le ciel devient-il noir en plein jour parfois ?", 19),
    ("Quels oiseaux ne volent pas et vivent près du pôle Sud ?", 21),
]

"""Events from files and generators: data-set readers, a synthetic stream, the paced
producer.

May import: settings/, messages/, kafka/.
"""

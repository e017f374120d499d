"""Usage of the included leads: threshold crossings (80 %, 100 %) per period."""

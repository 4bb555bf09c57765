/**
 * Colour names every stage agrees on: the inference stage names a vehicle's paint and a person's clothing with
 * them, the index checks queries against them, the API and CLI list them. Kept here so search-index/ need not
 * import inference/ (stages talk through common/ only).
 */

/** Names a search can ask for. `grey` covers silver, `brown` covers orange. */
export const VEHICLE_COLOURS = ['white', 'black', 'grey', 'red', 'blue', 'yellow', 'green', 'brown'] as const;
export type VehicleColour = (typeof VEHICLE_COLOURS)[number];

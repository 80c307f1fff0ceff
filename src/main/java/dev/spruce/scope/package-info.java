/**
 * What a run may touch: the decoder-layer ranges that importance scores and the planner prunes, and the error
 * for settings that cannot make a valid plan. Shared by {@code importance} and {@code prune}, below both.
 */
package dev.spruce.scope;

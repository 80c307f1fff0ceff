/**
 * Compresso: hard-concrete (L0) masks on heads / kv groups, MLP channels and hidden dimensions, learned jointly
 * with LoRA under a Lagrangian size constraint on the one trainer, then turned into a binary plan the apply stage
 * removes physically.
 */
package dev.spruce.compresso;

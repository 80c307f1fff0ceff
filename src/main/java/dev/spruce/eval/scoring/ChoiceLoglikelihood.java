package dev.spruce.eval.scoring;

import java.io.Serializable;

/** The scored result of one {@link LoglikelihoodRequest}: the summed log-probability of its continuation. */
public record ChoiceLoglikelihood(String docKey, int choiceIndex, double loglikelihood) implements Serializable {}

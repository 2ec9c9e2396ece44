"""Templates of the policy documents and the Annex IV skeleton that ``bastion govern pack`` fills."""

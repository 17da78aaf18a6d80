"""Hadoop MapReduce through mrjob: the engine and the MRJob it runs."""

"""Apache Hadoop MapReduce: jobs as YARN applications through Hadoop Streaming, input and
output on HDFS (engine.py); the Python side of each map and reduce task (task.py)."""

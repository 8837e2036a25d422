#!/usr/bin/python3
"""Tunes the example's container image through boto3, as against SageMaker:
the only change is endpoint_url (openhpo's hpod). Usage:

  tune.py HPOD_URL IMAGE DATA_URI OUTPUT_URI

DATA_URI is s3://bucket/prefix (with openhpo's S3 channels) or file:///dir."""
import sys
import time

import boto3

url, image, data, output = sys.argv[1:5]
sm = boto3.client("sagemaker", endpoint_url=url, region_name="us-east-1",
                  aws_access_key_id="example", aws_secret_access_key="example")
name = "container-example-%d" % int(time.time())
sm.create_hyper_parameter_tuning_job(
    HyperParameterTuningJobName=name,
    HyperParameterTuningJobConfig={
        "Strategy": "Bayesian",
        "HyperParameterTuningJobObjective": {"Type": "Minimize",
                                             "MetricName": "validation:mse"},
        "ResourceLimits": {"MaxNumberOfTrainingJobs": 8, "MaxParallelTrainingJobs": 2},
        "ParameterRanges": {"ContinuousParameterRanges": [
            {"Name": "learning_rate", "MinValue": "0.0001", "MaxValue": "0.05",
             "ScalingType": "Logarithmic"}]},
        "TrainingJobEarlyStoppingType": "Off",
    },
    TrainingJobDefinition={
        "AlgorithmSpecification": {
            "TrainingImage": image, "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "validation:mse",
                                   "Regex": "validation:mse=([0-9.eE+-]+)"}]},
        "RoleArn": "arn:aws:iam::123456789012:role/example",
        "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": data,
            "S3DataDistributionType": "FullyReplicated"}}}],
        "OutputDataConfig": {"S3OutputPath": output},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1,
                           "VolumeSizeInGB": 1},
        "StaticHyperParameters": {"epochs": "20"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
    })
while True:
    d = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    c = d["TrainingJobStatusCounters"]
    print("%s: %s, %d completed, %d in progress" % (
        name, d["HyperParameterTuningJobStatus"], c["Completed"], c["InProgress"]), flush=True)
    if d["HyperParameterTuningJobStatus"] in ("Completed", "Failed", "Stopped"):
        break
    time.sleep(2)
best = d.get("BestTrainingJob")
if not best:
    sys.exit("no best training job: %s" % d.get("FailureReason"))
job = sm.describe_training_job(TrainingJobName=best["TrainingJobName"])
print("best: %s learning_rate=%s validation:mse=%s" % (
    best["TrainingJobName"], best["TunedHyperParameters"]["learning_rate"],
    best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]))
print("model: %s" % job["ModelArtifacts"]["S3ModelArtifacts"])

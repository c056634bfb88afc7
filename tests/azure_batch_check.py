#!/usr/bin/env python3
"""Check Azure Batch request bodies against the Batch service REST schema.

  azure_batch_check.py [--rendered] KIND=FILE ...     KIND: pool, job, task, job-schedule, screen-schedule

Each file must parse as JSON, carry every property the REST API marks as
required for its object (Pool - Add, Job - Add, Task - Add, Job Schedule -
Add, and the objects inside them), use only property names the API defines
(catches misspellings such as nodeAgentSkuId or maxTasksPerNode, which the
data-plane API spells nodeAgentSKUId / taskSlotsPerNode), and valid enum
values, ISO 8601 durations and types. Templates may hold ${NAME}
placeholders in strings; with --rendered none may remain and date-times must
be UTC. Then finsim's own rules: a one-slot, inter-node-communicating
container pool with a start task; a multi-instance MPI task with a
coordination command line and HDF5 outputs uploaded on success; no secret
values anywhere and nothing secret-looking on a command line.
Prints one line per file; exit 1 with 'FAIL: ...' on the first problem.
"""
import json
import re
import sys

# Property tables from the Batch service REST reference (api-version 2024-07-01.20.0):
# object -> (required properties, {property: type}). Types: str, int, bool, dur
# (ISO 8601 duration), time (date-time), an enum set, another object's name,
# or [type] for a list. 'any' is not checked further.
DUR = "dur"
S = {
    "Pool": ({"id", "vmSize"}, {
        "id": "str", "displayName": "str", "vmSize": "str",
        "virtualMachineConfiguration": "VirtualMachineConfiguration", "resizeTimeout": DUR,
        "targetDedicatedNodes": "int", "targetLowPriorityNodes": "int", "enableAutoScale": "bool",
        "autoScaleFormula": "str", "autoScaleEvaluationInterval": DUR, "enableInterNodeCommunication": "bool",
        "networkConfiguration": "any", "startTask": "StartTask", "certificateReferences": ["any"],
        "applicationPackageReferences": ["any"], "taskSlotsPerNode": "int", "taskSchedulingPolicy": "any",
        "userAccounts": ["any"], "metadata": ["MetadataItem"], "mountConfiguration": ["MountConfiguration"],
        "targetNodeCommunicationMode": {"default", "classic", "simplified"}, "upgradePolicy": "any",
        "resourceTags": "any"}),
    # one of its properties per entry (they are mutually exclusive)
    "MountConfiguration": (set(), {
        "azureFileShareConfiguration": "AzureFileShareConfiguration", "nfsMountConfiguration": "NFSMountConfiguration",
        "cifsMountConfiguration": "any", "azureBlobFileSystemConfiguration": "any"}),
    "AzureFileShareConfiguration": ({"accountName", "azureFileUrl", "accountKey", "relativeMountPath"}, {
        "accountName": "str", "azureFileUrl": "str", "accountKey": "str", "relativeMountPath": "str",
        "mountOptions": "str"}),
    "NFSMountConfiguration": ({"source", "relativeMountPath"}, {
        "source": "str", "relativeMountPath": "str", "mountOptions": "str"}),
    # finsim's pool-mounts.json (not a REST object): the mountConfiguration choices of submit.sh
    "PoolMounts": (set(), {"azurefiles": ["MountConfiguration"], "nfs": ["MountConfiguration"]}),
    "VirtualMachineConfiguration": ({"imageReference", "nodeAgentSKUId"}, {
        "imageReference": "ImageReference", "nodeAgentSKUId": "str", "windowsConfiguration": "any",
        "dataDisks": ["any"], "licenseType": "str", "containerConfiguration": "ContainerConfiguration",
        "diskEncryptionConfiguration": "any", "nodePlacementConfiguration": "any", "extensions": ["any"],
        "osDisk": "any", "securityProfile": "any", "serviceArtifactReference": "any"}),
    "ImageReference": (set(), {
        "publisher": "str", "offer": "str", "sku": "str", "version": "str", "virtualMachineImageId": "str",
        "sharedGalleryImageId": "str", "communityGalleryImageId": "str"}),
    "ContainerConfiguration": ({"type"}, {
        "type": {"dockercompatible", "cricompatible"}, "containerImageNames": ["str"],
        "containerRegistries": ["ContainerRegistry"]}),
    "ContainerRegistry": (set(), {
        "username": "str", "password": "str", "registryServer": "str",
        "identityReference": "ComputeNodeIdentityReference"}),
    "ComputeNodeIdentityReference": ({"resourceId"}, {"resourceId": "str"}),
    "StartTask": ({"commandLine"}, {
        "commandLine": "str", "containerSettings": "TaskContainerSettings", "resourceFiles": ["any"],
        "environmentSettings": ["EnvironmentSetting"], "userIdentity": "UserIdentity",
        "maxTaskRetryCount": "int", "waitForSuccess": "bool"}),
    "TaskContainerSettings": ({"imageName"}, {
        "containerRunOptions": "str", "imageName": "str", "registry": "ContainerRegistry",
        "workingDirectory": {"taskworkingdirectory", "containerimagedefault"},
        "containerHostBatchBindMounts": ["any"]}),
    "UserIdentity": (set(), {"username": "str", "autoUser": "AutoUserSpecification"}),
    "AutoUserSpecification": (set(), {"scope": {"task", "pool"}, "elevationLevel": {"nonadmin", "admin"}}),
    "EnvironmentSetting": ({"name"}, {"name": "str", "value": "str"}),
    "MetadataItem": ({"name", "value"}, {"name": "str", "value": "str"}),
    "Job": ({"id", "poolInfo"}, {
        "id": "str", "displayName": "str", "priority": "int", "maxParallelTasks": "int",
        "allowTaskPreemption": "bool", "constraints": "JobConstraints", "jobManagerTask": "JobManagerTask",
        "jobPreparationTask": "any", "jobReleaseTask": "any", "commonEnvironmentSettings": ["EnvironmentSetting"],
        "poolInfo": "PoolInformation", "onAllTasksComplete": {"noaction", "terminatejob"},
        "onTaskFailure": {"noaction", "performexitoptionsjobaction"}, "metadata": ["MetadataItem"],
        "usesTaskDependencies": "bool", "networkConfiguration": "any"}),
    "JobConstraints": (set(), {"maxWallClockTime": DUR, "maxTaskRetryCount": "int"}),
    "PoolInformation": (set(), {"poolId": "str", "autoPoolSpecification": "any"}),
    "Task": ({"id", "commandLine"}, {
        "id": "str", "displayName": "str", "commandLine": "str", "containerSettings": "TaskContainerSettings",
        "exitConditions": "any", "resourceFiles": ["any"], "outputFiles": ["OutputFile"],
        "environmentSettings": ["EnvironmentSetting"], "affinityInfo": "any", "constraints": "TaskConstraints",
        "requiredSlots": "int", "userIdentity": "UserIdentity", "multiInstanceSettings": "MultiInstanceSettings",
        "dependsOn": "any", "applicationPackageReferences": ["any"], "authenticationTokenSettings": "any"}),
    "MultiInstanceSettings": ({"coordinationCommandLine"}, {
        "numberOfInstances": "int", "coordinationCommandLine": "str", "commonResourceFiles": ["any"]}),
    "OutputFile": ({"filePattern", "destination", "uploadOptions"}, {
        "filePattern": "str", "destination": "OutputFileDestination", "uploadOptions": "OutputFileUploadOptions"}),
    "OutputFileDestination": ({"container"}, {"container": "OutputFileBlobContainerDestination"}),
    "OutputFileBlobContainerDestination": ({"containerUrl"}, {
        "path": "str", "containerUrl": "str", "identityReference": "ComputeNodeIdentityReference",
        "uploadHeaders": ["any"]}),
    "OutputFileUploadOptions": ({"uploadCondition"}, {
        "uploadCondition": {"tasksuccess", "taskfailure", "taskcompletion"}}),
    "TaskConstraints": (set(), {"maxWallClockTime": DUR, "retentionTime": DUR, "maxTaskRetryCount": "int"}),
    "JobSchedule": ({"id", "schedule", "jobSpecification"}, {
        "id": "str", "displayName": "str", "schedule": "Schedule", "jobSpecification": "JobSpecification",
        "metadata": ["MetadataItem"]}),
    "Schedule": (set(), {"doNotRunUntil": "time", "doNotRunAfter": "time", "startWindow": DUR,
                         "recurrenceInterval": DUR}),
    "JobSpecification": ({"poolInfo"}, {
        "priority": "int", "allowTaskPreemption": "bool", "maxParallelTasks": "int", "displayName": "str",
        "usesTaskDependencies": "bool", "onAllTasksComplete": {"noaction", "terminatejob"},
        "onTaskFailure": {"noaction", "performexitoptionsjobaction"}, "networkConfiguration": "any",
        "constraints": "JobConstraints", "jobManagerTask": "JobManagerTask", "jobPreparationTask": "any",
        "jobReleaseTask": "any", "commonEnvironmentSettings": ["EnvironmentSetting"],
        "poolInfo": "PoolInformation", "metadata": ["MetadataItem"]}),
    "JobManagerTask": ({"id", "commandLine"}, {
        "id": "str", "displayName": "str", "commandLine": "str", "containerSettings": "TaskContainerSettings",
        "resourceFiles": ["any"], "outputFiles": ["OutputFile"], "environmentSettings": ["EnvironmentSetting"],
        "constraints": "TaskConstraints", "requiredSlots": "int", "killJobOnCompletion": "bool",
        "userIdentity": "UserIdentity", "runExclusive": "bool", "applicationPackageReferences": ["any"],
        "authenticationTokenSettings": "any", "allowLowPriorityNode": "bool"}),
}
KINDS = {"pool": "Pool", "job": "Job", "task": "Task", "job-schedule": "JobSchedule",
         "screen-schedule": "JobSchedule", "pool-mounts": "PoolMounts"}
PLACEHOLDER = re.compile(r"\$\{[A-Z0-9_]+\}")
DURATION = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")
UTC_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|SAS|KEY$|_KEY_|CREDENTIAL|CONNECTION_STRING", re.I)
SECRET_VALUE = re.compile(r"(sig=[A-Za-z0-9%]{8,}|AccountKey=|SharedAccessKey=|-----BEGIN [A-Z ]*PRIVATE KEY|"
                          r"password\s*=|[A-Za-z0-9+/]{40,}={0,2})")
ERRORS = []


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def check(obj, typ, path, rendered):
    if typ == "any":
        return
    if isinstance(typ, list):
        if not isinstance(obj, list):
            fail(f"{path}: expected a list")
        for i, v in enumerate(obj):
            check(v, typ[0], f"{path}[{i}]", rendered)
        return
    if isinstance(obj, str) and PLACEHOLDER.search(obj):
        if rendered:
            fail(f"{path}: placeholder left after rendering: {obj}")
        if typ in ("str", DUR, "time") or isinstance(typ, set):
            return  # a template value, checked once rendered
    if isinstance(typ, set):
        if not isinstance(obj, str) or obj.lower() not in typ:
            fail(f"{path}: {obj!r} is not one of {sorted(typ)}")
        return
    if typ == "str":
        if not isinstance(obj, str):
            fail(f"{path}: expected a string, got {type(obj).__name__}")
        return
    if typ == "int":
        if not isinstance(obj, int) or isinstance(obj, bool):
            fail(f"{path}: expected an integer, got {obj!r}")
        return
    if typ == "bool":
        if not isinstance(obj, bool):
            fail(f"{path}: expected true or false, got {obj!r}")
        return
    if typ == DUR:
        if not isinstance(obj, str) or not DURATION.match(obj):
            fail(f"{path}: {obj!r} is not an ISO 8601 duration (e.g. PT24H)")
        return
    if typ == "time":
        if not isinstance(obj, str) or not UTC_TIME.match(obj):
            fail(f"{path}: {obj!r} is not a UTC date-time (YYYY-MM-DDTHH:MM:SSZ)")
        return
    required, props = S[typ]
    if not isinstance(obj, dict):
        fail(f"{path}: expected an object ({typ})")
    for k in obj:
        if k not in props:
            near = [p for p in props if p.lower() == k.lower()]
            fail(f"{path}: '{k}' is not a property of {typ}" + (f" (did you mean '{near[0]}'?)" if near else ""))
    for r in sorted(required):
        if r not in obj:
            fail(f"{path}: {typ} requires '{r}'")
    for k, v in obj.items():
        check(v, props[k], f"{path}.{k}", rendered)
    # one-of rules
    if typ == "PoolInformation" and not ({"poolId", "autoPoolSpecification"} & obj.keys()):
        fail(f"{path}: poolInfo needs poolId or autoPoolSpecification")
    if typ == "ImageReference" and "virtualMachineImageId" not in obj and not {"publisher", "offer", "sku"} <= obj.keys():
        fail(f"{path}: imageReference needs publisher, offer and sku (or virtualMachineImageId)")
    if typ == "UserIdentity" and len({"username", "autoUser"} & obj.keys()) != 1:
        fail(f"{path}: userIdentity needs exactly one of username and autoUser")
    if typ == "MountConfiguration" and len(obj) != 1:
        fail(f"{path}: a mountConfiguration entry needs exactly one file system, found {sorted(obj)}")
    if typ == "ContainerRegistry" and "identityReference" not in obj and not {"username", "password"} <= obj.keys():
        fail(f"{path}: a container registry needs username and password, or identityReference")


def walk_strings(obj, path=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from walk_strings(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from walk_strings(v, f"{path}[{i}]")
    elif isinstance(obj, str):
        yield path, obj


def env_settings(obj, path=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ("environmentSettings", "commonEnvironmentSettings") and isinstance(v, list):
                for i, e in enumerate(v):
                    yield f"{path}.{k}[{i}]", e
            else:
                yield from env_settings(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from env_settings(v, f"{path}[{i}]")


def no_secrets(doc, name, rendered):
    """Templates hold placeholders only where secrets go; rendered files must be redacted."""
    for p, e in env_settings(doc):
        # a *_FILE setting names a file holding the secret, not the secret
        if SECRET_NAME.search(e.get("name", "")) and not e.get("name", "").endswith("_FILE"):
            v = e.get("value", "")
            ok = (not rendered and re.fullmatch(r"\$\{[A-Z0-9_]+\}", v)) or (rendered and v == "<redacted>")
            if not ok:
                fail(f"{name}{p}: secret setting {e['name']} holds a value (use a ${{...}} placeholder "
                     f"that submit.sh fills)")
    for p, s in walk_strings(doc):
        if p.endswith(".password") or p.endswith(".containerUrl") or p.endswith(".accountKey"):
            if not rendered and not PLACEHOLDER.fullmatch(s):
                fail(f"{name}{p}: must be a placeholder in the template, found {s!r}")
        if p.endswith("FINSIM_TASK_JSON") or (".value" in p and re.fullmatch(r"[A-Za-z0-9+/=]{200,}", s)):
            continue  # the base64 task (itself checked when rendered) and the redacted key
        if p.endswith(".resourceId") and re.fullmatch(r"/subscriptions/[-0-9a-fA-F]+/resourceGroups/[^?#=]+", s):
            continue  # an Azure resource id (a managed identity): a path, not a secret
        if SECRET_VALUE.search(s) and not PLACEHOLDER.search(s):
            fail(f"{name}{p}: value looks like a secret: {s[:40]!r}...")
    for p, s in walk_strings(doc):
        if p.endswith("ommandLine") or p.endswith("containerRunOptions"):
            # --password-file PATH / --api-key-file PATH name files, not secrets
            s = re.sub(r"--(password|api-key)-file \S+", "", s)
            if re.search(r"(?i)password|secret|sig=|token|\$\{", s):
                fail(f"{name}{p}: a command line must not carry secrets or placeholders: {s!r}")


def daily_job_manager(doc, name):
    """Check a daily job schedule's recurrence; return its jobManagerTask (or None)."""
    sch = doc["schedule"]
    if sch.get("recurrenceInterval") != "PT24H":
        fail(f"{name}: a daily schedule needs recurrenceInterval PT24H")
    if "doNotRunUntil" not in sch:
        fail(f"{name}: the schedule needs doNotRunUntil (the first run)")
    return doc["jobSpecification"].get("jobManagerTask")


def finsim_rules(kind, doc, name, rendered):
    if kind == "pool-mounts":
        for k, lst in doc.items():
            for m in lst:
                for cfg in m.values():
                    if cfg.get("relativeMountPath") != "finsim":
                        fail(f"{name}: {k}: relativeMountPath must be 'finsim' (run-task.sh reads "
                             f"$AZ_BATCH_NODE_MOUNTS_DIR/finsim)")
    if kind == "pool":
        if doc.get("taskSlotsPerNode") != 1:
            fail(f"{name}: taskSlotsPerNode must be 1 (one MPI task per node)")
        if doc.get("enableInterNodeCommunication") is not True:
            fail(f"{name}: enableInterNodeCommunication must be true for multi-instance MPI tasks")
        vmc = doc.get("virtualMachineConfiguration", {})
        cc = vmc.get("containerConfiguration")
        if not cc or not cc.get("containerImageNames"):
            fail(f"{name}: the pool needs a containerConfiguration with the finsim image")
        if "startTask" not in doc:
            fail(f"{name}: the pool needs a start task")
    if kind == "task":
        mis = doc.get("multiInstanceSettings")
        if not mis or not mis.get("coordinationCommandLine"):
            fail(f"{name}: the task must be multi-instance with a coordinationCommandLine")
        n = mis.get("numberOfInstances")
        if not isinstance(n, int) or n < 1:
            fail(f"{name}: numberOfInstances must be a positive integer")
        if doc.get("requiredSlots", 1) != 1:
            fail(f"{name}: a multi-instance task must use one slot per node")
        if "containerSettings" not in doc:
            fail(f"{name}: tasks on a container pool must have containerSettings")
        if not any(o["uploadOptions"]["uploadCondition"].lower() == "tasksuccess" and o["filePattern"].endswith(".h5")
                   for o in doc.get("outputFiles", [])):
            fail(f"{name}: the HDF5 results must be uploaded on taskSuccess")
    if kind == "task" and rendered:
        for o in doc.get("outputFiles", []):
            url = o["destination"]["container"]["containerUrl"]
            if not url.startswith("https://"):
                fail(f"{name}: outputFiles containerUrl must be an https URL of a blob container, not {url!r}")
    if kind == "task":
        for o in doc.get("outputFiles", []):
            c = o["destination"]["container"]
            if "?" in c["containerUrl"] or "identityReference" not in c and not rendered:
                fail(f"{name}: outputFiles upload with the pool identity (identityReference), never a SAS")
    if kind in ("job", "task", "job-schedule"):
        # jobs, tasks and schedules never carry a secret: the task reads them at run time
        for p, e in env_settings(doc):
            if SECRET_NAME.search(e.get("name", "")) or e.get("name") == "FINSIM_MPI_SSH_KEY":
                fail(f"{name}{p}: {e['name']}: a job, task or schedule holds no secret setting "
                     f"(the task reads it from Key Vault when it runs)")
    if kind == "job-schedule" and rendered:
        import base64
        for p, e in env_settings(doc):
            if e.get("name") == "FINSIM_TASK_JSON":
                task = json.loads(base64.b64decode(e["value"]))
                check(task, "Task", "FINSIM_TASK_JSON", rendered)
                no_secrets(task, name + ":FINSIM_TASK_JSON", rendered)
                finsim_rules("task", task, name + ":FINSIM_TASK_JSON", rendered)
    if kind == "screen-schedule":  # the daily screen: its job manager task is the whole job
        jm = daily_job_manager(doc, name)
        if not jm or "containerSettings" not in jm:
            fail(f"{name}: the screen runs as a job manager task on a container pool (containerSettings)")
        elif not re.search(r"\bfinsim screen\b", jm["commandLine"]):
            fail(f"{name}: the job manager task must run 'finsim screen'")
        elif not jm.get("outputFiles"):
            fail(f"{name}: the signals must be uploaded (outputFiles)")
    if kind == "job-schedule":
        jm = daily_job_manager(doc, name)
        if not jm:
            fail(f"{name}: a recurring schedule needs a jobManagerTask to add the day's tasks")
        if jm.get("killJobOnCompletion", True) is not False:
            fail(f"{name}: the job manager only adds the MPI task: killJobOnCompletion must be false")
        if doc["jobSpecification"].get("onAllTasksComplete", "").lower() != "terminatejob":
            fail(f"{name}: onAllTasksComplete must be terminatejob so the next day's job can start")
        if "containerSettings" not in jm:
            fail(f"{name}: the job manager task runs on a container pool: it needs containerSettings")


def main():
    args = sys.argv[1:]
    rendered = False
    if args and args[0] == "--rendered":
        rendered, args = True, args[1:]
    if not args:
        print(__doc__)
        sys.exit(2)
    for a in args:
        kind, _, name = a.partition("=")
        if kind not in KINDS:
            fail(f"unknown kind {kind} (pool, job, task, job-schedule, screen-schedule)")
        try:
            with open(name) as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            fail(f"{name}: {e}")
        check(doc, KINDS[kind], kind, rendered)
        no_secrets(doc, name, rendered)
        finsim_rules(kind, doc, name, rendered)
        print(f"azure-batch: {name}: valid {KINDS[kind]} request{' (rendered)' if rendered else ' template'}")


if __name__ == "__main__":
    main()

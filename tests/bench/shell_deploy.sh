#!/bin/bash
# shell_deploy.sh — the service deployment of the shell tool ecs-deploy 3.10 (bash + AWS CLI
# + jq), replayed call for call for the benchmark: describe-services, describe-task-definition,
# the jq rewrite, register-task-definition, update-service, then its two waits (list-tasks +
# describe-tasks every 10 s until a task of the new revision is HEALTHY/RUNNING, then
# describe-services every 2 s until one deployment is left). Written for the benchmark from
# the tool's documented behaviour; it is not the tool's code.
#
#   shell_deploy.sh CLUSTER SERVICE IMAGE TIMEOUT   (AWS_ECS_ARGS: --endpoint-url ... --ca-bundle ...)
set -u
CLUSTER=$1 SERVICE=$2 IMAGE=$3 TIMEOUT=$4
AWS_ECS="aws $AWS_ECS_ARGS ecs"

TASK_DEFINITION=$($AWS_ECS describe-services --services "$SERVICE" --cluster "$CLUSTER" | jq -r '.services[0].taskDefinition')
echo "Current task definition: $TASK_DEFINITION"
TASK_DEFINITION_JSON=$($AWS_ECS describe-task-definition --task-def "$TASK_DEFINITION")
# The shell tool rewrites .image of every container whose image starts with the repository
# (a regex on the string) and keeps a fixed list of members.
REPO=${IMAGE%:*}
NEW_DEF=$(echo "$TASK_DEFINITION_JSON" | jq --arg IMAGE "$IMAGE" --arg REPO "$REPO" '
  .taskDefinition
  | .containerDefinitions |= map(if (.image | startswith($REPO)) then .image = $IMAGE else . end)
  | {family, volumes, containerDefinitions, placementConstraints, networkMode, executionRoleArn, taskRoleArn}
  | with_entries(select(.value != null))')
NEW_TASKDEF=$($AWS_ECS register-task-definition --cli-input-json "$NEW_DEF" | jq -r '.taskDefinition.taskDefinitionArn')
echo "New task definition: $NEW_TASKDEF"
$AWS_ECS update-service --cluster "$CLUSTER" --service "$SERVICE" --task-definition "$NEW_TASKDEF" > /dev/null

if [ "$(echo "$NEW_DEF" | jq '.containerDefinitions[0].healthCheck != null')" = true ]; then
	field=healthStatus value='"HEALTHY"'
else
	field=lastStatus value='"RUNNING"'
fi
DESIRED=$($AWS_ECS describe-services --cluster "$CLUSTER" --service "$SERVICE" | jq '.services[]|.desiredCount')
ok=false
if [ "$DESIRED" -gt 0 ]; then
	i=0 every=10
	while [ $i -lt "$TIMEOUT" ]; do
		RUNNING_TASKS=$($AWS_ECS list-tasks --cluster "$CLUSTER" --service-name "$SERVICE" --desired-status RUNNING | jq -r '.taskArns[]')
		if [ -n "$RUNNING_TASKS" ]; then
			# shellcheck disable=SC2086
			RUNNING=$($AWS_ECS describe-tasks --cluster "$CLUSTER" --tasks $RUNNING_TASKS \
				| jq ".tasks[]| if .taskDefinitionArn == \"$NEW_TASKDEF\" then . else empty end|.$field" | grep -e "$value")
			if [ -n "$RUNNING" ]; then
				echo "Service updated successfully, new task definition running."
				ok=true
				break
			fi
		fi
		sleep $every
		i=$((i + every))
	done
	if [ $ok != true ]; then
		echo "ERROR: New task definition not running within $TIMEOUT seconds"
		exit 1
	fi
fi
echo "Waiting for service deployment to complete..."
i=0 every=2
while [ $i -lt "$TIMEOUT" ]; do
	N=$($AWS_ECS describe-services --services "$SERVICE" --cluster "$CLUSTER" | jq '[.services[].deployments[]] | length')
	if [ "$N" -eq 1 ]; then
		echo "Service deployment successful."
		exit 0
	fi
	sleep $every
	i=$((i + every))
done
exit 1

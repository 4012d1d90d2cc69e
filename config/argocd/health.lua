-- Argo CD health check for the lmo-operator kinds (License, ManagedPackage, LicenseManagementOrg).
--
-- The kinds publish kstatus conditions (Ready, Reconciling, Stalled) and status.observedGeneration,
-- so one script serves all three. Argo CD runs configmap health scripts without the string library:
-- keep to the base library and the .. operator.

local hs = {}

local function findCondition(conditions, conditionType)
  if conditions == nil then
    return nil
  end
  for _, condition in ipairs(conditions) do
    if condition.type == conditionType then
      return condition
    end
  end
  return nil
end

-- messageOf returns the condition's message, its reason when the message is empty, or fallback.
local function messageOf(condition, fallback)
  if condition ~= nil then
    if condition.message ~= nil and condition.message ~= "" then
      return condition.message
    end
    if condition.reason ~= nil and condition.reason ~= "" then
      return condition.reason
    end
  end
  return fallback
end

local status = obj.status
if status == nil or status.conditions == nil or #status.conditions == 0 then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end

-- Like kstatus, only compare generations once the operator has published observedGeneration.
local generation = obj.metadata.generation
local observedGeneration = status.observedGeneration
if generation ~= nil and observedGeneration ~= nil and observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe the latest spec"
  return hs
end

local conditions = status.conditions
local stalled = findCondition(conditions, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = messageOf(stalled, "The operator cannot make progress without a change to the spec")
  return hs
end

local ready = findCondition(conditions, "Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = messageOf(ready, "Fully reconciled")
  return hs
end

local reconciling = findCondition(conditions, "Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = messageOf(reconciling, messageOf(ready, "The operator is working toward the spec"))
  return hs
end

if ready == nil or ready.status ~= "False" then
  hs.status = "Progressing"
  hs.message = messageOf(ready, "Waiting for the operator to set the Ready condition")
  return hs
end

-- Ready=False while the operator is neither working nor stuck: it is waiting on something outside the
-- cluster, on purpose. The controllers set this for a License before the customer installs the package
-- (AwaitingInstall), for drift under the Observe policy (Drifted) and for drift while paused (Paused).
-- None of these is a failure the spec can fix, so they are not Degraded; Ready's message says which.
hs.status = "Suspended"
hs.message = messageOf(ready, "The operator is waiting; see the Ready condition")
return hs
